//! The durable webhook queue: deliveries queued, found when due, kept in
//! order, rescheduled after a failure, removed once delivered, and still
//! there after the store is reopened. On both backends.

mod common;

use common::{APP, TestDb};
use parley_store::{NewWebhook, Timestamp};

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
