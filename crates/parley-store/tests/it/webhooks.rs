//! The durable webhook queue: deliveries queued, found when due, kept in
//! order, rescheduled after a failure, removed once delivered, and still
//! there after the store is reopened. On both backends. And a full disk
//! under the queue leaves no broken connection behind.

use crate::common;

use common::tmpfs::Tmpfs;
use common::{APP, TestDb, open, send};
use std::time::Duration;

use parley_store::{Database, NewWebhook, StoreOptions, Timestamp, WebhookDelivery};

store_tests!(
    the_queue_keeps_order_reschedules_and_survives_reopening,
    a_claimed_delivery_is_claimed_by_no_one_else_until_its_lease_ends,
);

const HOOK: &str = "http://127.0.0.1:9/hook";
const OTHER_HOOK: &str = "http://127.0.0.1:9/other";
const LEASE: Duration = Duration::from_secs(60);

fn delivery(body: &str) -> NewWebhook {
    delivery_to(HOOK, body)
}

fn delivery_to(url: &str, body: &str) -> NewWebhook {
    NewWebhook {
        app_id: APP.to_owned(),
        url: url.to_owned(),
        body: body.to_owned(),
    }
}

fn bodies(deliveries: &[WebhookDelivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.body.as_str()).collect()
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

    // One receiver: its oldest delivery first, the next once that one is
    // settled.
    let due = store
        .claim_webhooks(Timestamp::now(), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(
        bodies(&due),
        ["{\"n\":1}"],
        "oldest first, one per receiver"
    );
    assert!(due.iter().all(|d| d.attempts == 0 && d.app_id == APP));

    // The first failed: it waits a minute, the second is due now.
    let later = Timestamp::from_millis(Timestamp::now().as_millis() + 60_000);
    store.reschedule_webhook(due[0].id, 1, later).await.unwrap();
    let now_due = store
        .claim_webhooks(Timestamp::now(), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(bodies(&now_due), ["{\"n\":2}"]);
    store.remove_webhook(now_due[0].id).await.unwrap();
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(later));
    store.close().await;

    // Reopened: the failed delivery is still queued with its attempt, and a
    // starting server makes it due at once.
    let store = db.open().await;
    assert!(
        store
            .claim_webhooks(Timestamp::now(), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    store.retry_webhooks_now().await.unwrap();
    let due = store
        .claim_webhooks(Timestamp::now(), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].body.as_str(), due[0].attempts), ("{\"n\":1}", 1));
    store.remove_webhook(due[0].id).await.unwrap();
    assert_eq!(store.pending_webhooks(APP).await.unwrap(), 0);
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    store.close().await;
}

/// Nodes sharing a store claim from one queue: two claims at once never
/// return one delivery twice, a receiver's next delivery waits for its
/// claimed one, and a claim whose node died (never settled) ends with its
/// lease, when another node may take the delivery.
async fn a_claimed_delivery_is_claimed_by_no_one_else_until_its_lease_ends(db: TestDb) {
    let store = db.open().await;
    let other_node = db.open().await;
    let mut queued = Vec::new();
    for n in 0..20 {
        let url = if n % 2 == 0 { HOOK } else { OTHER_HOOK };
        queued.push(delivery_to(url, &format!("{{\"n\":{n}}}")));
    }
    store.enqueue_webhooks(&queued).await.unwrap();

    let now = Timestamp::now();
    let (mine, theirs) = tokio::join!(
        store.claim_webhooks(now, 10, LEASE),
        other_node.claim_webhooks(now, 10, LEASE),
    );
    let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
    let mut claimed = bodies(&mine);
    claimed.extend(bodies(&theirs));
    claimed.sort_unstable();
    assert_eq!(
        claimed,
        ["{\"n\":0}", "{\"n\":1}"],
        "each receiver's oldest delivery, claimed once between the two nodes"
    );
    assert!(
        other_node
            .claim_webhooks(Timestamp::now(), 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "a receiver with a claimed delivery gets no other"
    );

    // The first receiver's delivery is sent and removed: its next one is
    // claimable (here for ten minutes); the second receiver's node "died"
    // holding its claim.
    let first = mine.iter().chain(&theirs).find(|d| d.url == HOOK).unwrap();
    store.remove_webhook(first.id).await.unwrap();
    let next = other_node
        .claim_webhooks(Timestamp::now(), 10, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(bodies(&next), ["{\"n\":2}"]);

    // When the dead node's lease has run out (claimed as if a minute and
    // more had passed), its delivery is claimed again, and the queue says
    // when that will be.
    let dead_claim_ends = Timestamp::from_millis(now.as_millis() + 60_000);
    assert!(store.next_webhook_due().await.unwrap() <= Some(dead_claim_ends));
    let after_lease = Timestamp::from_millis(now.as_millis() + 61_000);
    let retaken = other_node
        .claim_webhooks(after_lease, 10, LEASE)
        .await
        .unwrap();
    assert_eq!(bodies(&retaken), ["{\"n\":1}"]);
    other_node.close().await;
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
