//! Channel streams: offsets under concurrency, group commit, delivery,
//! recovery, history and retention, on both backends.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{APP, TestDb, assert_foreign_edit_refused, channel, encode, id, new_message, send};
use parking_lot::Mutex;
use parley_core::{BrokerEventHandler, Publication, PublicationKind};
use parley_store::{
    HistoryCursor, HistoryQuery, Message, MessageEdit, Pin, PinChange, Retention, Store,
    StoreError, Timestamp, TrimScope,
};

store_tests!(
    offsets_stay_gapless_under_concurrent_sends,
    group_commit_batches_concurrent_writes,
    a_refused_operation_does_not_fail_its_batch,
    a_lone_refused_operation_leaves_no_trace,
    a_refused_change_does_not_fail_its_batch,
    delivery_sees_every_channel_in_offset_order,
    recovery_returns_exactly_the_missed_events,
    recovery_is_incomplete_once_trimmed,
    history_pages_through_a_stream,
    a_new_stream_has_an_epoch_before_its_first_event,
    trim_keeps_the_newest_and_the_recent,
);

async fn publish(store: &Store, channel_name: &str, data: &'static str) -> u64 {
    store
        .publish(
            Arc::from(APP),
            channel(channel_name),
            Bytes::from_static(data.as_bytes()),
            None,
        )
        .await
        .expect("published")
        .position
        .offset
}

async fn offsets_stay_gapless_under_concurrent_sends(db: TestDb) {
    let store = db.open().await;
    let sends: Vec<_> = (0..50)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { send(&store, "chat:busy", &format!("user{n}"), "hi").await })
        })
        .collect();
    let mut sent = Vec::new();
    for task in sends {
        sent.push(task.await.expect("the task finished"));
    }

    let mut offsets: Vec<u64> = sent.iter().map(|s| s.message.offset).collect();
    offsets.sort_unstable();
    assert_eq!(offsets, (1..=50).collect::<Vec<_>>());

    let recovery = store
        .publications_after(APP, &channel("chat:busy"), 0, 100)
        .await
        .expect("read back");
    assert!(recovery.complete);
    assert_eq!(recovery.position.offset, 50);
    let stored: Vec<u64> = recovery
        .publications
        .iter()
        .map(|p| p.position.offset)
        .collect();
    assert_eq!(stored, (1..=50).collect::<Vec<_>>());
    for publication in &recovery.publications {
        let message = sent
            .iter()
            .find(|s| s.message.offset == publication.position.offset)
            .map(|s| &s.message)
            .expect("a message per offset");
        assert_eq!(publication.message_id, Some(message.id));
        assert_eq!(
            publication.data,
            encode(PublicationKind::from(Message::CREATED), message)
        );
        assert_eq!(publication.position.epoch, recovery.position.epoch);
    }
    store.close().await;
}

async fn group_commit_batches_concurrent_writes(db: TestDb) {
    let store = db.open().await;
    let before = store.stats();
    let sends: Vec<_> = (0..200)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                send(&store, &format!("chat:room{}", n % 7), "alice", "hi").await
            })
        })
        .collect();
    for task in sends {
        task.await.expect("the task finished");
    }
    let after = store.stats();
    let operations = after.operations - before.operations;
    let transactions = after.transactions - before.transactions;
    assert_eq!(operations, 200);
    // One transaction per message would be 200; batching takes everything
    // queued while the previous batch commits.
    assert!(
        transactions <= 50,
        "200 concurrent sends took {transactions} transactions"
    );
    store.close().await;
}

async fn a_refused_operation_does_not_fail_its_batch(db: TestDb) {
    let store = db.open().await;
    let target = send(&store, "chat:lobby", "alice", "original").await;
    let tasks: Vec<_> = (0..60)
        .map(|n| {
            let store = store.clone();
            let target = id(&target);
            tokio::spawn(async move {
                if n % 3 == 0 {
                    // Someone else's message: refused, whatever batch it is in.
                    assert_foreign_edit_refused(&store, target, format!("mallory{n}")).await;
                    None
                } else {
                    Some(
                        send(&store, "chat:lobby", "bob", "fine")
                            .await
                            .message
                            .offset,
                    )
                }
            })
        })
        .collect();
    let mut offsets = Vec::new();
    for task in tasks {
        offsets.extend(task.await.expect("the task finished"));
    }
    offsets.sort_unstable();
    assert_eq!(
        offsets,
        (2..=41).collect::<Vec<_>>(),
        "refused edits took no offset"
    );
    assert!(store.stats().transactions < 40, "{:?}", store.stats());
    let message = store.message(APP, id(&target)).await.expect("stored");
    assert_eq!(message.text, "original");
    store.close().await;
}

async fn a_lone_refused_operation_leaves_no_trace(db: TestDb) {
    let store = db.open().await;
    let target = send(&store, "chat:lobby", "alice", "original").await;
    // Alone in its batch, the edit runs without a savepoint: refusing it
    // rolls the whole transaction back, the offset it took included.
    let edit = MessageEdit {
        app: Arc::from(APP),
        id: id(&target),
        editor: "mallory".into(),
        text: "pwned".into(),
    };
    assert!(matches!(
        store.edit_message(edit).await,
        Err(StoreError::Forbidden(_))
    ));
    let next = send(&store, "chat:lobby", "bob", "next").await;
    assert_eq!(next.message.offset, 2, "the refused edit took no offset");
    let message = store.message(APP, id(&target)).await.expect("stored");
    assert_eq!(message.text, "original");
    assert_eq!(message.edited_at, None);
    store.close().await;
}

/// A pin by `alice` of `message` in `channel_name`.
fn pin_change(channel_name: &str, message: parley_store::MessageId) -> PinChange {
    PinChange {
        app: Arc::from(APP),
        channel: channel(channel_name),
        message,
        by: "alice".into(),
        action: parley_store::PinAction::Pin,
        encode: Arc::new(|pin: &Pin| Bytes::from(format!("pinned {}", pin.message.id))),
    }
}

async fn a_refused_change_does_not_fail_its_batch(db: TestDb) {
    let store = db.open().await;
    let target = send(&store, "chat:lobby", "alice", "pin me").await;
    let elsewhere = send(&store, "chat:other", "alice", "not in the lobby").await;
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let store = store.clone();
            let elsewhere = id(&elsewhere);
            tokio::spawn(async move {
                if n % 3 == 0 {
                    // A pin in the lobby of a message of another channel:
                    // refused, whatever batch it is in.
                    match store.pin(pin_change("chat:lobby", elsewhere)).await {
                        Err(StoreError::NotFound(_)) => None,
                        other => panic!("a pin of a foreign message was not refused: {other:?}"),
                    }
                } else {
                    Some(publish(&store, "chat:lobby", "\"fine\"").await)
                }
            })
        })
        .collect();
    let mut offsets = Vec::new();
    for task in tasks {
        offsets.extend(task.await.expect("the task finished"));
    }
    offsets.sort_unstable();
    assert_eq!(
        offsets,
        (2..=21).collect::<Vec<_>>(),
        "refused pins took no offset"
    );
    assert_eq!(store.pins(APP, &channel("chat:lobby")).await.unwrap(), []);
    let pinned = store
        .pin(pin_change("chat:lobby", id(&target)))
        .await
        .expect("pinned");
    let publication = pinned.publication.expect("a pin event");
    assert_eq!(publication.position.offset, 22);
    assert_eq!(publication.kind, Pin::PINNED);
    assert_eq!(
        publication.data,
        Bytes::from(format!("pinned {}", id(&target)))
    );
    let pins = store.pins(APP, &channel("chat:lobby")).await.unwrap();
    assert_eq!(
        pins.iter().map(|pin| pin.message.id).collect::<Vec<_>>(),
        [id(&target)]
    );
    store.close().await;
}

/// Records what the store delivers, as a node's hub would receive it.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Arc<Publication>)>>);

impl BrokerEventHandler for Recorder {
    fn handle_publication(&self, app: &str, publication: Arc<Publication>) {
        self.0.lock().push((app.to_owned(), publication));
    }

    fn handle_gap(&self, _: &str, _: &parley_core::ChannelName) -> usize {
        0
    }
}

async fn delivery_sees_every_channel_in_offset_order(db: TestDb) {
    let store = db.open().await;
    let recorder = Arc::new(Recorder::default());
    assert!(store.deliver_to(recorder.clone()));
    assert!(
        !store.deliver_to(recorder.clone()),
        "the handler is set once"
    );

    let tasks: Vec<_> = (0..60)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = format!("chat:room{}", n % 3);
                if n % 2 == 0 {
                    send(&store, &name, "alice", "hi").await.message.offset
                } else {
                    store
                        .publish(
                            Arc::from(APP),
                            channel(&name),
                            Bytes::from_static(b"x"),
                            None,
                        )
                        .await
                        .expect("published")
                        .position
                        .offset
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task finished");
    }

    let delivered = recorder.0.lock().clone();
    assert_eq!(delivered.len(), 60);
    for room in 0..3 {
        let name = format!("chat:room{room}");
        let offsets: Vec<u64> = delivered
            .iter()
            .filter(|(app, p)| app == APP && p.channel.as_str() == name)
            .map(|(_, p)| p.position.offset)
            .collect();
        assert_eq!(offsets, (1..=20).collect::<Vec<_>>(), "{name}");
    }
    store.close().await;
}

async fn recovery_returns_exactly_the_missed_events(db: TestDb) {
    let store = db.open().await;
    let lobby = channel("chat:lobby");
    let first = send(&store, "chat:lobby", "alice", "one").await;
    send(&store, "chat:lobby", "bob", "two").await;
    let seen = store.stream(APP, &lobby).await.expect("position");
    assert_eq!(seen.offset, 2);

    // What the client misses while it is away.
    let third = send(&store, "chat:lobby", "carol", "three").await;
    store
        .edit_message(MessageEdit {
            app: Arc::from(APP),
            id: id(&first),
            editor: "alice".into(),
            text: "one, edited".into(),
        })
        .await
        .expect("edited");
    store
        .delete_message(parley_store::MessageDelete {
            app: Arc::from(APP),
            id: id(&third),
            actor: "carol".into(),
            actor_is_moderator: false,
            mode: parley_store::DeleteMode::Soft,
        })
        .await
        .expect("deleted");
    publish(&store, "chat:lobby", "plain").await;

    let recovery = store
        .publications_after(APP, &lobby, seen.offset, 100)
        .await
        .expect("recovery");
    assert!(recovery.complete);
    assert_eq!(recovery.position.epoch, seen.epoch);
    assert_eq!(recovery.position.offset, 6);
    let events: Vec<_> = recovery
        .publications
        .iter()
        .map(|p| (p.position.offset, p.kind.clone(), p.message_id))
        .collect();
    assert_eq!(
        events,
        [
            (3, PublicationKind::from(Message::CREATED), Some(id(&third))),
            (4, PublicationKind::from(Message::UPDATED), Some(id(&first))),
            (5, PublicationKind::from(Message::DELETED), Some(id(&third))),
            (6, PublicationKind::Publication, None),
        ]
    );
    assert_eq!(recovery.publications[3].data, "plain");

    let limited = store
        .publications_after(APP, &lobby, seen.offset, 2)
        .await
        .expect("limited recovery");
    assert_eq!(limited.publications.len(), 2);
    assert!(!limited.complete, "the limit cut the range");

    let up_to_date = store
        .publications_after(APP, &lobby, 6, 100)
        .await
        .expect("nothing missed");
    assert!(up_to_date.complete && up_to_date.publications.is_empty());
    let from_the_future = store
        .publications_after(APP, &lobby, 60, 100)
        .await
        .expect("an offset the stream never had");
    assert!(!from_the_future.complete);
    store.close().await;
}

async fn recovery_is_incomplete_once_trimmed(db: TestDb) {
    let store = db.open().await;
    let lobby = channel("chat:lobby");
    for _ in 0..10 {
        publish(&store, "chat:lobby", "x").await;
    }
    let removed = store
        .trim(
            Arc::from(APP),
            TrimScope::Channel(lobby.clone()),
            Retention {
                keep_last: Some(4),
                older_than: None,
            },
        )
        .await
        .expect("trimmed");
    assert_eq!(removed, 6);
    let recovered = store
        .publications_after(APP, &lobby, 6, 100)
        .await
        .expect("recovery within what is kept");
    assert!(recovered.complete);
    assert_eq!(recovered.publications.len(), 4);
    let lost = store
        .publications_after(APP, &lobby, 3, 100)
        .await
        .expect("recovery past what is kept");
    assert!(!lost.complete, "offsets 4 to 6 are gone");
    assert_eq!(
        publish(&store, "chat:lobby", "y").await,
        11,
        "offsets go on"
    );
    store.close().await;
}

async fn history_pages_through_a_stream(db: TestDb) {
    let store = db.open().await;
    let lobby = channel("chat:lobby");
    for _ in 0..10 {
        publish(&store, "chat:lobby", "x").await;
    }
    let page = |cursor, limit| {
        let store = store.clone();
        let lobby = lobby.clone();
        async move {
            let page = store
                .history(APP, &lobby, HistoryQuery { cursor, limit })
                .await
                .expect("history");
            let offsets: Vec<u64> = page
                .publications
                .iter()
                .map(|p| p.position.offset)
                .collect();
            (
                offsets,
                page.has_older,
                page.has_newer,
                page.position.offset,
            )
        }
    };
    assert_eq!(
        page(HistoryCursor::Newest, 3).await,
        (vec![8, 9, 10], true, false, 10)
    );
    assert_eq!(
        page(HistoryCursor::Before(8), 3).await,
        (vec![5, 6, 7], true, true, 10)
    );
    assert_eq!(
        page(HistoryCursor::After(7), 2).await,
        (vec![8, 9], true, true, 10)
    );
    assert_eq!(
        page(HistoryCursor::Oldest, 2).await,
        (vec![1, 2], false, true, 10)
    );
    assert_eq!(
        page(HistoryCursor::Before(1), 5).await,
        (vec![], false, true, 10)
    );
    assert_eq!(page(HistoryCursor::Newest, 500).await.0.len(), 10);
    store.close().await;
}

async fn a_new_stream_has_an_epoch_before_its_first_event(db: TestDb) {
    let store = db.open().await;
    let quiet = channel("chat:quiet");
    let position = store.stream(APP, &quiet).await.expect("created");
    assert_eq!(position.offset, 0);
    assert!(!position.epoch.is_empty());
    assert_eq!(store.stream(APP, &quiet).await.expect("read"), position);

    let empty = store
        .publications_after(APP, &quiet, 0, 10)
        .await
        .expect("nothing to recover");
    assert!(empty.complete && empty.publications.is_empty());
    let first = store
        .publish(
            Arc::from(APP),
            quiet.clone(),
            Bytes::from_static(b"x"),
            None,
        )
        .await
        .expect("published");
    assert_eq!(first.position.offset, 1);
    assert_eq!(first.position.epoch, position.epoch);

    let other_app = store.stream("app2", &quiet).await.expect("another app");
    assert_ne!(
        other_app.epoch, position.epoch,
        "each app has its own stream"
    );
    store.close().await;
}

async fn trim_keeps_the_newest_and_the_recent(db: TestDb) {
    let store = db.open().await;
    for _ in 0..5 {
        publish(&store, "chat:a", "x").await;
        publish(&store, "chat:b", "x").await;
    }
    let all = store
        .trim(
            Arc::from(APP),
            TrimScope::AllChannels,
            Retention {
                keep_last: Some(2),
                older_than: None,
            },
        )
        .await
        .expect("trimmed every channel");
    assert_eq!(all, 6);
    let kept = store
        .publications_after(APP, &channel("chat:b"), 0, 100)
        .await
        .expect("read");
    let offsets: Vec<u64> = kept
        .publications
        .iter()
        .map(|p| p.position.offset)
        .collect();
    assert_eq!(offsets, [4, 5]);

    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    publish(&store, "chat:a", "fresh").await;
    let aged = store
        .trim(
            Arc::from(APP),
            TrimScope::Channel(channel("chat:a")),
            Retention {
                keep_last: None,
                older_than: Some(cutoff),
            },
        )
        .await
        .expect("trimmed by age");
    assert_eq!(aged, 2);
    let left = store
        .publications_after(APP, &channel("chat:a"), 0, 100)
        .await
        .expect("read");
    assert_eq!(left.publications.len(), 1);
    assert_eq!(left.publications[0].data, "fresh");
    // A namespace's sweep leaves other namespaces alone.
    for _ in 0..3 {
        publish(&store, "news:today", "x").await;
        publish(&store, "newsroom", "x").await;
    }
    let news = store
        .trim(
            Arc::from(APP),
            TrimScope::Namespace(Some("news".into())),
            Retention {
                keep_last: Some(1),
                older_than: None,
            },
        )
        .await
        .expect("trimmed a namespace");
    assert_eq!(
        news, 2,
        "only news:today; newsroom is in the default namespace"
    );
    let default = store
        .trim(
            Arc::from(APP),
            TrimScope::Namespace(None),
            Retention {
                keep_last: Some(0),
                older_than: None,
            },
        )
        .await
        .expect("trimmed the default namespace");
    assert_eq!(default, 3);
    let remaining = store
        .publications_after(APP, &channel("news:today"), 0, 100)
        .await
        .expect("read");
    assert_eq!(remaining.publications.len(), 1);
    // Other apps keep everything.
    let mut elsewhere = new_message("chat:a", "alice", "hi");
    elsewhere.app = Arc::from("app2");
    store.send_message(elsewhere).await.expect("sent in app2");
    store
        .trim(
            Arc::from(APP),
            TrimScope::AllChannels,
            Retention {
                keep_last: Some(0),
                older_than: None,
            },
        )
        .await
        .expect("trimmed everything of app1");
    let app2 = store
        .publications_after("app2", &channel("chat:a"), 0, 100)
        .await
        .expect("read app2");
    assert_eq!(app2.publications.len(), 1);
    store.close().await;
}
