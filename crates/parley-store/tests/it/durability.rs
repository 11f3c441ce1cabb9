//! What survives: reopening the store, its migrations, closing it, and
//! `kill -9` of a process in the middle of writing, on both backends.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{APP, TestDb, channel, id, new_message, send};
use parley_store::{Database, DeleteMode, MessageDelete, MessageEdit, StoreError, StoreOptions};

store_tests!(
    data_and_epochs_survive_reopening,
    migrations_are_reported_once,
    a_closed_store_refuses_writes,
);

async fn data_and_epochs_survive_reopening(db: TestDb) {
    let store = db.open().await;
    let lobby = channel("chat:lobby");
    let kept = send(&store, "chat:lobby", "alice", "first").await;
    store
        .edit_message(MessageEdit {
            app: Arc::from(APP),
            id: id(&kept),
            editor: "alice".into(),
            text: "first, edited".into(),
        })
        .await
        .expect("edited");
    let gone = send(&store, "chat:lobby", "bob", "second").await;
    store
        .delete_message(MessageDelete {
            app: Arc::from(APP),
            id: id(&gone),
            actor: "bob".into(),
            actor_is_moderator: false,
            mode: DeleteMode::Soft,
        })
        .await
        .expect("deleted");
    let before = store
        .publications_after(APP, &lobby, 0, 100)
        .await
        .expect("read");
    let quiet = store
        .stream(APP, &channel("chat:quiet"))
        .await
        .expect("created");
    store.close().await;

    let reopened = db.open().await;
    let after = reopened
        .publications_after(APP, &lobby, 0, 100)
        .await
        .expect("read after reopening");
    assert_eq!(after, before, "publications, epoch and offsets are kept");
    assert_eq!(
        reopened
            .stream(APP, &channel("chat:quiet"))
            .await
            .expect("still there"),
        quiet,
        "an empty stream keeps its epoch too"
    );
    let message = reopened.message(APP, id(&kept)).await.expect("kept");
    assert_eq!(message.text, "first, edited");
    let trail = reopened.edit_trail(APP, id(&kept)).await.expect("trail");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].text, "first");
    assert!(
        reopened
            .message(APP, id(&gone))
            .await
            .expect("tombstone")
            .is_deleted()
    );
    let next = send(&reopened, "chat:lobby", "carol", "third").await;
    assert_eq!(next.message.offset, 5, "offsets go on where they were");
    assert!(next.message.id > id(&gone), "ids are not reused");
    reopened.close().await;
}

async fn migrations_are_reported_once(db: TestDb) {
    let store = db.open().await;
    let applied = store.applied_migrations().to_vec();
    assert!(!applied.is_empty(), "a new database gets the schema");
    assert_eq!(applied[0].version, 1);
    store.close().await;

    let reopened = db.open().await;
    assert_eq!(reopened.applied_migrations(), []);
    reopened.close().await;
}

async fn a_closed_store_refuses_writes(db: TestDb) {
    let store = db.open().await;
    let clone = store.clone();
    send(&store, "chat:lobby", "alice", "before").await;
    store.close().await;
    let refused = clone
        .send_message(new_message("chat:lobby", "alice", "after"))
        .await;
    assert!(matches!(refused, Err(StoreError::Closed)), "{refused:?}");
    // Closing again is harmless.
    store.close().await;
}

/// Set in the child process to the database it writes to.
const CHILD_DATABASE: &str = "PARLEY_STORE_CRASH_CHILD_DATABASE";

/// How many acknowledged writes the parent waits for before it kills the
/// child.
const ACKNOWLEDGED: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_kill_9() {
    if let Ok(url) = std::env::var(CHILD_DATABASE) {
        return write_until_killed(&url).await;
    }
    acknowledged_writes_survive_kill_9(
        TestDb::sqlite().await,
        "durability::sqlite_acknowledged_writes_survive_kill_9",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_kill_9() {
    if let Ok(url) = std::env::var(CHILD_DATABASE) {
        return write_until_killed(&url).await;
    }
    acknowledged_writes_survive_kill_9(
        TestDb::postgres().await,
        "durability::postgres_acknowledged_writes_survive_kill_9",
    )
    .await;
}

/// Runs this test binary again as a child that writes as fast as it can and
/// prints every acknowledgement, kills it with SIGKILL in full flight, and
/// checks that every acknowledged message is in the reopened store.
async fn acknowledged_writes_survive_kill_9(db: TestDb, test_name: &str) {
    // The schema exists before the child starts, so the child writes at once.
    db.open().await.close().await;
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DATABASE, db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("the child's stdout");
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut acknowledged = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(key) = line.strip_prefix("acked ") {
                acknowledged.push(key.to_owned());
            }
            if acknowledged.len() >= ACKNOWLEDGED || Instant::now() > deadline {
                break;
            }
        }
        acknowledged
    });
    let acknowledged = tokio::task::spawn_blocking(move || reader.join())
        .await
        .expect("the reader task")
        .expect("the reader thread");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        acknowledged.len() >= ACKNOWLEDGED,
        "the child acknowledged only {} writes",
        acknowledged.len()
    );

    let store = db.open().await;
    for key in &acknowledged {
        let mut resend = new_message("chat:crash", "writer", "again");
        resend.client_msg_id = Some(key.clone());
        let sent = store.send_message(resend).await.expect("resent");
        assert!(
            sent.publication.is_none(),
            "acknowledged message {key} was lost"
        );
    }
    let recovery = store
        .publications_after(APP, &channel("chat:crash"), 0, parley_store::MAX_RECOVERY)
        .await
        .expect("read");
    let offsets: Vec<u64> = recovery
        .publications
        .iter()
        .map(|p| p.position.offset)
        .collect();
    assert!(recovery.complete, "offsets are gapless: {offsets:?}");
    assert!(recovery.position.offset as usize >= acknowledged.len());
    store.close().await;
}

/// The child: eight writers send messages with unique keys, printing each
/// key once the store acknowledged it, until the parent kills the process
/// (or, should the parent be gone, a bounded number of writes later).
async fn write_until_killed(url: &str) {
    let database = Database::from_url(url).expect("the parent's database");
    let store = common::open(StoreOptions::new(database)).await;
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..2_000 {
                    let key = format!("{writer}-{n}");
                    let mut new = new_message("chat:crash", "writer", "durable");
                    new.client_msg_id = Some(key.clone());
                    if store.send_message(new).await.is_ok() {
                        println!("acked {key}");
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        let _ = writer.await;
    }
}
