//! Starting with no configuration, minting tokens, shutting down, and
//! failing to start, quickly and saying why, when the store cannot be opened.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::tmpfs::Tmpfs;
use common::{Client, TestServer, api_call, test_config};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn graceful_shutdown_sends_every_client_the_shutdown_code() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for user in 0..5 {
        let mut client = server.user(&user.to_string()).await;
        client.ok("subscribe", json!({"channel": "news"})).await;
        clients.push(client);
    }
    let mut not_connected = Client::open(&server.ws_url()).await;
    let url = server.url("/readyz");
    server.stop().await;
    for client in clients.iter_mut().chain([&mut not_connected]) {
        let (code, reason, texts) = client.closed().await;
        assert_eq!((code, reason.as_str()), (4200, "server shutdown"));
        assert_eq!(texts.last().unwrap()["reconnect"], true);
    }
    assert!(reqwest::get(url).await.is_err(), "the listener is closed");
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn parley_serve_starts_without_configuration_and_parley_token_mints_accepted_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_parley");
    let mut child = Child(
        Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_remove("PARLEY_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut api_key = None;
    let mut address = None;
    let mut mentions_token = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(key) = line.strip_prefix("HTTP API key: ") {
            api_key = Some(key.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Parley listening on http://") {
            address = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("parley token --user") {
            mentions_token = true;
            break;
        }
    }
    let (api_key, address) = (
        api_key.expect("prints the API key"),
        address.expect("prints the address"),
    );
    assert!(mentions_token);
    assert!(dir.path().join("parley-data/credentials.toml").exists());

    let token = Command::new(binary)
        .args(["token", "--user", "42", "--name", "Ann", "--ttl", "5m"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let mut client = Client::open(&format!("ws://{address}/ws")).await;
    assert_eq!(
        client.ok("connect", json!({"token": token})).await["user"],
        "42"
    );
    client.ok("subscribe", json!({"channel": "news"})).await;
    let (status, reply) = api_call(
        &format!("http://{address}/api/v1/publish"),
        Method::POST,
        Some(&api_key),
        Some(json!({"channel": "news", "data": {"text": "hello"}})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(client.push().await["data"]["text"], "hello");

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(client.closed().await.0, 4200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "parley did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");

    // Credentials are generated once: minting again generates nothing.
    let again = Command::new(binary)
        .args(["token", "--user", "42"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8(again.stderr).unwrap().is_empty(),
        "nothing generated twice"
    );
}

/// A PostgreSQL URL with a password, for checking that it is never shown.
const SECRET_URL: &str = "postgres://parley:hunter2-not-shown@127.0.0.1:1/parley";

/// Builds a server with `config` and returns why it failed, and how long
/// that took.
async fn start_error(config: parley_server::Config) -> (String, Duration) {
    let started = std::time::Instant::now();
    match parley_server::Server::new(config).await {
        Ok(_) => panic!("the server started"),
        Err(error) => (error.to_string(), started.elapsed()),
    }
}

#[tokio::test]
async fn start_against_an_unreachable_postgres_fails_at_once_naming_the_url_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database_url = Some(SECRET_URL.to_owned());
    let (message, took) = start_error(config).await;
    assert!(took < Duration::from_secs(5), "took {took:?}: {message}");
    assert!(
        message.contains("PostgreSQL database postgres://parley:***@127.0.0.1:1/parley"),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn start_against_a_postgres_that_never_answers_fails_after_the_connect_timeout() {
    // Accepts connections (the kernel completes the handshake) and never
    // says a word, like a database behind a dead proxy.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database_url = Some(format!(
        "postgres://parley:hunter2-not-shown@{}/parley",
        silent.local_addr().unwrap()
    ));
    config.database_connect_timeout = Duration::from_millis(500);
    let (message, took) = start_error(config).await;
    assert!(took < Duration::from_secs(3), "took {took:?}: {message}");
    assert!(message.contains("no connection within 500ms"), "{message}");
    assert!(
        message.contains("postgres://parley:***@127.0.0.1:"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn start_on_a_full_disk_fails_at_once_naming_the_sqlite_path_and_the_cause() {
    let disk = Tmpfs::mount("1m");
    let data_dir = disk.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    disk.fill();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.data_dir = data_dir.clone();
    let (message, took) = start_error(config).await;
    assert!(took < Duration::from_secs(5), "took {took:?}: {message}");
    let path = data_dir.join("parley.db");
    assert!(
        message.contains(&format!("SQLite database {}", path.display())),
        "{message}"
    );
    assert!(
        message.contains("full") || message.contains("No space left"),
        "{message}"
    );
}

#[tokio::test]
async fn parley_serve_against_an_unreachable_postgres_exits_with_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("PARLEY_CONFIG")
        .env("PARLEY_DATABASE_URL", SECRET_URL)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {stderr}");
    assert!(
        stderr.contains(
            "parley: cannot open the store: PostgreSQL database \
             postgres://parley:***@127.0.0.1:1/parley: "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stdout.contains("hunter2"),
        "{stderr}{stdout}"
    );
}

#[tokio::test]
async fn command_latency_samples_stay_bounded_without_a_scrape() {
    use futures_util::{SinkExt, StreamExt};
    use parley_server::telemetry::recorder::MAX_HELD_SAMPLES;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start_with(|config| {
        config.commands_per_second = 1_000_000;
        config.command_burst = 1_000_000;
    })
    .await;
    let mut client = server.user("ann").await;
    // Three times the bound, with nobody scraping `/metrics`: each command
    // records one latency sample.
    const BATCH: usize = 1000;
    let batches = 3 * MAX_HELD_SAMPLES / BATCH;
    let mut id = 1000;
    for _ in 0..batches {
        for _ in 0..BATCH {
            id += 1;
            let ping = json!({"id": id, "method": "ping", "params": {}}).to_string();
            client.socket.feed(Message::text(ping)).await.unwrap();
        }
        client.socket.flush().await.unwrap();
        let mut answered = 0;
        while answered < BATCH {
            let message = tokio::time::timeout(Duration::from_secs(10), client.socket.next())
                .await
                .expect("replies in time")
                .unwrap()
                .unwrap();
            if message.is_text() {
                answered += 1;
            }
        }
    }
    let held = server.state.metrics.held_samples();
    assert!(
        held <= MAX_HELD_SAMPLES,
        "{held} samples held after {} commands",
        batches * BATCH
    );
    server.stop().await;
}

/// What the server's standard error is, in the tests of a log that cannot
/// be written.
#[derive(Clone, Copy)]
enum Stderr {
    /// A pipe nobody reads, in blocking mode: writes block once it is full.
    FullBlocking,
    /// A pipe nobody reads, in non-blocking mode: writes fail (`EAGAIN`)
    /// once it is full.
    FullNonBlocking,
    /// A pipe whose reader is gone: writes fail (`EPIPE`).
    Closed,
}

/// Runs the real `parley serve` with debug logging (every write to a
/// persisted namespace logs its SQL) and `stderr` as its standard error,
/// and uses it over the wire until the log has dropped lines, and then
/// some: every reply must arrive.
async fn serves_every_reply_when_stderr(stderr: Stderr) {
    const SECRET: &str = "stderr-test-secret-0123456789abcdef";
    const API_KEY: &str = "stderr-test-api-key";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("parley.toml");
    std::fs::write(&config, "[namespaces.chat]\npersist = true\n").unwrap();
    let (writer, reader) = tokio::net::unix::pipe::pipe().unwrap();
    let writer = match stderr {
        Stderr::FullBlocking => writer.into_blocking_fd().unwrap(),
        Stderr::FullNonBlocking | Stderr::Closed => writer.into_nonblocking_fd().unwrap(),
    };
    // Kept open, never read, until the end of the test (unless closed).
    let reader = match stderr {
        Stderr::Closed => None,
        Stderr::FullBlocking | Stderr::FullNonBlocking => Some(reader),
    };
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .env("PARLEY_LOG", "debug")
            .env("PARLEY_APP_SECRET", SECRET)
            .env("PARLEY_API_KEY", API_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(writer))
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.strip_prefix("Parley listening on http://")?;
            rest.split_whitespace().next().map(str::to_owned)
        })
        .expect("prints the address");
    let metrics_url = format!("http://{address}/metrics");
    let publish_url = format!("http://{address}/api/v1/publish");
    let publish = |channel: &'static str, round: usize| {
        let body = json!({"channel": channel, "data": {"round": round}});
        let publish_url = publish_url.clone();
        async move {
            let (status, reply) = tokio::time::timeout(
                Duration::from_secs(10),
                api_call(&publish_url, Method::POST, Some(API_KEY), Some(body)),
            )
            .await
            .unwrap_or_else(|_| panic!("publish {round} not answered in time"));
            assert_eq!(status, 200, "{reply}");
        }
    };

    // Each write to the store logs its statements: a few thousand fill the
    // pipe and the writer's queue.
    let mut dropped = 0;
    for batch in 0..1000 {
        futures_util::future::join_all((0..20).map(|n| publish("chat:log", batch * 20 + n))).await;
        dropped = dropped_lines(&metrics_url).await;
        if dropped > 0 {
            break;
        }
    }
    assert!(dropped > 0, "the log never dropped a line");

    // The log is full or gone: the server still answers everything.
    for round in 0..50 {
        let mut client = Client::open(&format!("ws://{address}/ws")).await;
        client
            .ok(
                "connect",
                json!({"token": common::token_with(SECRET, "42", |_| {})}),
            )
            .await;
        client.ok("subscribe", json!({"channel": "chat:log"})).await;
        publish("chat:log", round).await;
        assert_eq!(client.push().await["data"]["round"], round);
        client
            .ok("unsubscribe", json!({"channel": "chat:log"}))
            .await;
    }
    let (status, _) = tokio::time::timeout(
        Duration::from_secs(10),
        api_call(
            &format!("http://{address}/api/v1/channels"),
            Method::GET,
            Some(API_KEY),
            None,
        ),
    )
    .await
    .expect("the HTTP API answers");
    assert_eq!(status, 200);
    assert!(dropped_lines(&metrics_url).await > dropped);
    assert!(child.0.try_wait().unwrap().is_none(), "parley is running");
    drop(reader);
}

/// `parley_log_lines_dropped_total` from `/metrics`.
async fn dropped_lines(url: &str) -> u64 {
    let text = tokio::time::timeout(Duration::from_secs(10), async {
        reqwest::get(url).await.unwrap().text().await.unwrap()
    })
    .await
    .expect("/metrics answers");
    text.lines()
        .find_map(|line| line.strip_prefix("parley_log_lines_dropped_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

#[tokio::test]
async fn a_full_blocking_stderr_costs_log_lines_not_replies() {
    serves_every_reply_when_stderr(Stderr::FullBlocking).await;
}

#[tokio::test]
async fn a_full_non_blocking_stderr_costs_log_lines_not_replies() {
    serves_every_reply_when_stderr(Stderr::FullNonBlocking).await;
}

#[tokio::test]
async fn a_closed_stderr_costs_log_lines_not_replies() {
    serves_every_reply_when_stderr(Stderr::Closed).await;
}
