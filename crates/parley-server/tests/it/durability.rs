//! Acknowledged messages survive `kill -9` of the server, on SQLite and on
//! PostgreSQL; and the store works again once the I/O error that failed its
//! writes is gone (a full disk, a lost database connection).

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::tmpfs::Tmpfs;
use common::{API_KEY, Backend, Client, SECRET, TestDatabase, TestServer, api_call, token_with};
use futures_util::SinkExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const MESSAGES: u64 = 200;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) address: String,
}

impl Server {
    /// A client of this process that has sent `connect` as `user`.
    pub(crate) async fn user(&self, user: &str) -> Client {
        let mut client = Client::open(&format!("ws://{}/ws", self.address)).await;
        client
            .ok(
                "connect",
                json!({"token": token_with(SECRET, user, |_| {})}),
            )
            .await;
        client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary and reads the address it listens on (also for
/// `documents`' kill test).
pub(crate) async fn spawn(dir: &std::path::Path, database_url: Option<&str>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("parley.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("PARLEY_APP_SECRET", SECRET)
        .env("PARLEY_API_KEY", API_KEY)
        .env_remove("PARLEY_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("PARLEY_DATABASE_URL", url);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let address = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("Parley listening on http://") {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("parley exited before listening");
    })
    .await
    .unwrap();
    Server { child, address }
}

async fn acknowledged_messages_survive_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parley.toml"),
        "[namespaces.talk]\npersist = true\n",
    )
    .unwrap();
    let database = (backend == Backend::Postgres).then(TestDatabase::create);
    let url = database.as_ref().map(TestDatabase::url);

    let mut server = spawn(dir.path(), url.as_deref()).await;
    let mut client = server.user("ann").await;
    // Every send at once, so the writer commits them in groups.
    for n in 0..MESSAGES {
        let command = json!({"id": 100 + n, "method": "message_send",
                             "params": {"channel": "talk:durable", "text": format!("message {n}")}});
        client
            .socket
            .feed(Message::text(command.to_string()))
            .await
            .unwrap();
    }
    client.socket.flush().await.unwrap();
    let mut acked = Vec::new();
    while (acked.len() as u64) < MESSAGES {
        let reply = client.next_json().await;
        let result = &reply["result"];
        assert!(result.is_object(), "{reply}");
        acked.push((
            result["offset"].as_u64().unwrap(),
            result["text"].as_str().unwrap().to_owned(),
        ));
    }
    // Hard, right after the last acknowledgement.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = spawn(dir.path(), url.as_deref()).await;
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = api_call(
            &format!(
                "http://{}/api/v1/history?channel=talk:durable&limit=100&after={after}",
                server.address
            ),
            Method::GET,
            Some(API_KEY),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        for publication in page["publications"].as_array().unwrap() {
            let offset = publication["offset"].as_u64().unwrap();
            stored.push((
                offset,
                publication["data"]["text"].as_str().unwrap().to_owned(),
            ));
            after = offset;
        }
        if page["has_more"] != Value::Bool(true) {
            break;
        }
    }
    acked.sort();
    assert_eq!(
        stored, acked,
        "every acknowledged message, in order, with its offset"
    );
    let offsets: Vec<u64> = stored.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(offsets, (1..=MESSAGES).collect::<Vec<_>>());
}

#[tokio::test]
async fn sqlite_acknowledged_messages_survive_kill_9() {
    acknowledged_messages_survive_kill_9(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_acknowledged_messages_survive_kill_9() {
    acknowledged_messages_survive_kill_9(Backend::Postgres).await;
}

/// Sends `text` to `channel`: its stored offset, or the error code.
async fn send(client: &mut Client, channel: &str, text: &str) -> Result<u64, u64> {
    let reply = client
        .call("message_send", json!({"channel": channel, "text": text}))
        .await;
    match reply["result"]["offset"].as_u64() {
        Some(offset) => Ok(offset),
        None => Err(reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("neither a result nor an error: {reply}"))),
    }
}

/// Every publication of `channel` in the store, as (offset, text).
async fn stored(server: &TestServer, channel: &str) -> Vec<(u64, String)> {
    let (status, page) = server
        .api(
            Method::GET,
            &format!("/api/v1/history?channel={channel}&limit=100"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_ne!(page["has_more"], Value::Bool(true), "{page}");
    page["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publication| {
            (
                publication["offset"].as_u64().unwrap(),
                publication["data"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Sends on a SQLite store whose disk fills up, then has room again: sends
/// fail with an internal error while it is full, succeed again once space
/// is freed (without a restart), and history holds exactly the acknowledged
/// messages.
#[tokio::test]
async fn sqlite_store_recovers_after_a_full_disk() {
    let disk = Tmpfs::mount("16m");
    let data_dir = disk.path().join("data");
    let server = TestServer::start_with(|config| config.data_dir = data_dir).await;
    let mut ann = server.user("ann").await;
    let channel = "talk:full";
    let mut acked = Vec::new();
    for n in 0..5 {
        let text = format!("before {n}");
        let offset = send(&mut ann, channel, &text)
            .await
            .expect("a send with room succeeds");
        acked.push((offset, text));
    }

    let filler = disk.fill();
    // Several failures in a row, so that every connection of the pool has
    // had its turn at a failed transaction.
    const REFUSED: u32 = 10;
    let mut refused = 0;
    for n in 0..200 {
        let text = format!("full {n}");
        match send(&mut ann, channel, &text).await {
            Ok(offset) => acked.push((offset, text)),
            Err(code) => {
                assert_eq!(code, 500, "a full disk is an internal error");
                refused += 1;
                if refused == REFUSED {
                    break;
                }
            }
        }
    }
    assert_eq!(refused, REFUSED, "sends on a full disk fail");

    std::fs::remove_file(filler).unwrap();
    for n in 0..5 {
        let text = format!("after {n}");
        match send(&mut ann, channel, &text).await {
            Ok(offset) => acked.push((offset, text)),
            Err(code) => panic!("send {n} after space was freed failed with {code}"),
        }
    }

    acked.sort();
    let history = stored(&server, channel).await;
    assert_eq!(
        history, acked,
        "exactly the acknowledged messages are stored"
    );
    let offsets: Vec<u64> = history.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(offsets, (1..=history.len() as u64).collect::<Vec<_>>());
    drop(ann);
    server.stop().await;
    drop(disk);
}

/// Runs one query with psql on `url` and returns its output, unaligned.
fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-qtAc", sql])
        .output()
        .expect("psql runs");
    assert!(output.status.success(), "psql failed: {sql}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Polls `check` until it holds, for at most `common::WAIT`.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Kills the PostgreSQL backend of the store's writer in the middle of a
/// transaction: the send it was committing fails with an internal error,
/// the next sends succeed on a fresh connection without a restart, and
/// history holds exactly the acknowledged messages.
#[tokio::test]
async fn postgres_store_recovers_after_its_connection_is_killed() {
    let database = TestDatabase::create();
    let url = database.url();
    let server = TestServer::start_with(|config| config.database_url = Some(url.clone())).await;
    let mut ann = server.user("ann").await;
    let channel = "talk:killed";
    let mut acked = Vec::new();
    for n in 0..3 {
        let text = format!("before {n}");
        acked.push((send(&mut ann, channel, &text).await.unwrap(), text));
    }

    // Another session holds the channel's stream row, so the writer's next
    // transaction waits on it, with the transaction open.
    let mut holder = Command::new("psql")
        .args([url.as_str(), "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut holder_input = holder.stdin.take().unwrap();
    writeln!(
        holder_input,
        "BEGIN; SELECT 1 FROM streams WHERE channel = '{channel}' FOR UPDATE;"
    )
    .unwrap();
    holder_input.flush().unwrap();
    let idle_in_transaction = "SELECT count(*) FROM pg_stat_activity \
        WHERE datname = current_database() AND state = 'idle in transaction'";
    eventually("the row lock is held", || {
        psql(&url, idle_in_transaction) == "1"
    })
    .await;

    let blocked = json!({"id": 9000, "method": "message_send",
                         "params": {"channel": channel, "text": "blocked"}});
    ann.send_text(&blocked.to_string()).await;
    let terminate = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'";
    eventually("the writer's backend is terminated", || {
        psql(&url, terminate) == "1"
    })
    .await;
    let reply = ann.next_json().await;
    assert_eq!(reply["id"], 9000, "{reply}");
    assert_eq!(reply["error"]["code"], 500, "{reply}");
    drop(holder_input);
    holder.wait().unwrap();

    for n in 0..3 {
        let text = format!("after {n}");
        match send(&mut ann, channel, &text).await {
            Ok(offset) => acked.push((offset, text)),
            Err(code) => panic!("send {n} after the connection was lost failed with {code}"),
        }
    }
    acked.sort();
    let history = stored(&server, channel).await;
    assert_eq!(
        history, acked,
        "exactly the acknowledged messages are stored"
    );
    drop(ann);
    server.stop().await;
    drop(database);
}
