//! The durable webhook queue: deliveries queued, found when due, kept in
//! order, rescheduled after a failure, removed once delivered, and still
//! there after the store is reopened. On both backends. And a full disk
//! under the queue leaves no broken connection behind.

use crate::common;

use common::tmpfs::Tmpfs;
use common::{APP, TestDb, open, send};
use parley_store::{Database, NewWebhook, StoreOptions, Timestamp};

store_tests!(the_queue_keeps_order_reschedules_and_survives_reopening,);

fn delivery(body: &str) -> NewWebhook {
    NewWebhook {
        app_id: APP.to_owned(),
        url: "http://127.0.0.1:9/hook".to_owned(),
        body: body.to_owned(),
    }
}

async fn the_queue_keeps_order_reschedules_and_survives_reopening(db: TestDb) {
    let store = db.open().await;
    store
        .enqueue_webhooks(&[delivery("{\"n\":1}"), delivery("{\"n\":2}")])
        .await
        .unwrap();
    store.enqueue_webhooks(&[]).await.unwrap();
    assert_eq!(store.pending_webhooks(APP).await.unwrap(), 2);
    assert_eq!(store.pending_webhooks("other").await.unwrap(), 0);

    let due = store.due_webhooks(Timestamp::now(), 10).await.unwrap();
    let bodies: Vec<_> = due.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["{\"n\":1}", "{\"n\":2}"], "oldest first");
    assert!(due.iter().all(|d| d.attempts == 0 && d.app_id == APP));

    // The first failed: it waits a minute, the second is still due.
    let later = Timestamp::from_millis(Timestamp::now().as_millis() + 60_000);
    store.reschedule_webhook(due[0].id, 1, later).await.unwrap();
    let now_due = store.due_webhooks(Timestamp::now(), 10).await.unwrap();
    assert_eq!(now_due.len(), 1);
    assert_eq!(now_due[0].body, "{\"n\":2}");
    store.remove_webhook(now_due[0].id).await.unwrap();
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(later));
    store.close().await;

    // Reopened: the failed delivery is still queued with its attempt, and a
    // starting server makes it due at once.
    let store = db.open().await;
    assert!(
        store
            .due_webhooks(Timestamp::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.retry_webhooks_now().await.unwrap();
    let due = store.due_webhooks(Timestamp::now(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].body.as_str(), due[0].attempts), ("{\"n\":1}", 1));
    store.remove_webhook(due[0].id).await.unwrap();
    assert_eq!(store.pending_webhooks(APP).await.unwrap(), 0);
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    store.close().await;
}

/// Queueing webhooks on a full SQLite disk fails, and the connections those
/// failed transactions used go back to the pool clean (or are replaced):
/// once space is freed, the writer, which takes its connection from the
/// same pool, commits, and so does the queue.
#[tokio::test]
async fn a_full_disk_under_the_webhook_queue_leaves_the_store_working() {
    let disk = Tmpfs::mount("16m");
    let store = open(StoreOptions::new(Database::Sqlite {
        path: disk.path().join("parley.db"),
    }))
    .await;
    let filler = disk.fill();
    let big = "x".repeat(16 * 1024);
    let mut failed = 0;
    for _ in 0..20 {
        if store.enqueue_webhooks(&[delivery(&big)]).await.is_err() {
            failed += 1;
        }
    }
    assert!(
        failed >= 8,
        "queueing on a full disk fails ({failed} of 20)"
    );
    let queued = store.pending_webhooks(APP).await.unwrap();

    std::fs::remove_file(filler).unwrap();
    // The writer has not written yet, so it takes a pooled connection.
    send(&store, "chat:lobby", "alice", "after the disk was full").await;
    store.enqueue_webhooks(&[delivery("{}")]).await.unwrap();
    assert_eq!(store.pending_webhooks(APP).await.unwrap(), queued + 1);
    store.close().await;
    drop(disk);
}
