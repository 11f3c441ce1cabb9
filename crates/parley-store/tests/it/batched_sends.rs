//! Message sends in bulk: a batch of sends costs a few statements, not a
//! few per message, and gives exactly what sending one by one gives
//! (offsets, message counts, read markers, mentions, events), on both
//! backends.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;

use common::{APP, TestDb, assert_foreign_edit_refused, channel, encode, id, new_message, send};
use parley_core::PublicationKind;
use parley_store::{Message, NewMessage, Sent, Store};

store_tests!(
    a_batch_of_sends_costs_a_few_statements_not_a_few_per_message,
    sends_in_bulk_give_what_sends_one_by_one_give,
    a_key_sent_again_in_a_batch_appends_nothing,
    publications_in_bulk_take_gapless_offsets_in_a_few_statements,
    a_closed_loop_of_writers_loses_nothing_and_refusals_stay_alone,
);

/// Sends every message at once, each from its own task, so the writer
/// takes them in a few batches; returns what each was answered.
async fn send_all_at_once(store: &Store, news: Vec<NewMessage>) -> Vec<(NewMessage, Sent)> {
    let tasks: Vec<_> = news
        .into_iter()
        .map(|new| {
            let store = store.clone();
            tokio::spawn(async move {
                let sent = store
                    .send_message(new.clone())
                    .await
                    .expect("the message is sent");
                (new, sent)
            })
        })
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        sent.push(task.await.expect("the task finished"));
    }
    sent
}

async fn a_batch_of_sends_costs_a_few_statements_not_a_few_per_message(db: TestDb) {
    let store = db.open().await;
    let before = store.stats();
    let news = (0..300)
        .map(|n| new_message(&format!("chat:room{}", n % 7), &format!("user{n}"), "hi"))
        .collect();
    send_all_at_once(&store, news).await;
    let after = store.stats();
    let operations = after.operations - before.operations;
    let statements = after.statements - before.statements;
    assert_eq!(operations, 300);
    // One by one, a send is four statements (stream, read marker, message,
    // event) and its batch adds BEGIN and COMMIT; in bulk a batch is about
    // ten whatever its size.
    assert!(
        statements < operations,
        "300 sends took {statements} statements in {} transactions",
        after.transactions - before.transactions
    );
    store.close().await;
}

async fn sends_in_bulk_give_what_sends_one_by_one_give(db: TestDb) {
    let store = db.open().await;
    let channels = ["chat:a", "chat:b", "chat:c"];
    // Carol has a read marker in each channel before the burst, so her
    // unread and mention counts show what the burst counted.
    for name in channels {
        send(&store, name, "carol", "first").await;
    }
    let news: Vec<NewMessage> = (0..120)
        .map(|n| {
            let name = channels[n % 3];
            let author = if n % 4 == 0 { "alice" } else { "bob" };
            let mut new = new_message(name, author, &format!("message {n}"));
            match n % 5 {
                // A shadow message counts for no one and mentions no one.
                1 => new.shadow = true,
                2 => new.mentions = vec!["carol".to_owned(), "dave".to_owned()],
                // Not plain: sent one by one, between the bulk runs.
                3 => new.client_msg_id = Some(format!("key-{n}")),
                _ => {}
            }
            new
        })
        .collect();
    let sent = send_all_at_once(&store, news).await;

    let unread_of = |counts: &[parley_store::UnreadCount], name: &str| {
        counts
            .iter()
            .find(|count| count.channel == channel(name))
            .map(|count| (count.unread, count.mentions))
    };
    let carol = store.unread(APP, "carol").await.expect("read");
    let alice = store.unread(APP, "alice").await.expect("read");
    for name in channels {
        let mut in_channel: Vec<&(NewMessage, Sent)> = sent
            .iter()
            .filter(|(new, _)| new.channel == channel(name))
            .collect();
        in_channel.sort_by_key(|(_, sent)| sent.message.offset);
        let offsets: Vec<u64> = in_channel.iter().map(|(_, s)| s.message.offset).collect();
        assert_eq!(offsets, (2..=41).collect::<Vec<_>>(), "{name}: gapless");

        // Every answer is the message as stored, and its event is in the
        // stream at its offset with the message's data.
        let recovery = store
            .publications_after(APP, &channel(name), 1, 100)
            .await
            .expect("read back");
        assert!(recovery.complete);
        for (new, sent) in &in_channel {
            let stored = store.message(APP, sent.message.id).await.expect("stored");
            assert_eq!(stored, sent.message, "{name}: stored as answered");
            assert_eq!(stored.text, new.text);
            assert_eq!(stored.shadow, new.shadow);
            assert_eq!(stored.mentions, new.mentions);
            let publication = sent.publication.as_ref().expect("a new message");
            let kept = &recovery.publications[(sent.message.offset - 2) as usize];
            assert_eq!(kept, publication, "{name}: the event as answered");
            assert_eq!(kept.message_id, Some(sent.message.id));
            assert_eq!(
                kept.data,
                encode(PublicationKind::from(Message::CREATED), &sent.message)
            );
            let audience = new.shadow.then(|| Arc::from(new.author.as_str()));
            assert_eq!(kept.audience, audience);
        }

        // Carol read nothing of the burst: every message counted is unread,
        // and the mentions among them.
        let counted = in_channel.iter().filter(|(new, _)| !new.shadow).count() as u64;
        let mentions = in_channel
            .iter()
            .filter(|(new, _)| new.mentions.contains(&"carol".to_owned()))
            .count() as u64;
        assert_eq!(unread_of(&carol, name), Some((counted, mentions)), "{name}");

        // Alice's marker is at her last message: what others sent after it
        // (shadows aside) is unread.
        let last = in_channel
            .iter()
            .rposition(|(new, _)| new.author == "alice")
            .expect("alice sent to every channel");
        let after = in_channel[last + 1..]
            .iter()
            .filter(|(new, _)| !new.shadow)
            .count() as u64;
        let alice_mentions = 0;
        assert_eq!(
            unread_of(&alice, name),
            Some((after, alice_mentions)),
            "{name}"
        );
    }
    store.close().await;
}

async fn a_key_sent_again_in_a_batch_appends_nothing(db: TestDb) {
    let store = db.open().await;
    let keyed = |key: &str| {
        let mut new = new_message("chat:outbox", "alice", "hello");
        new.client_msg_id = Some(key.to_owned());
        new
    };
    let old = store
        .send_message(keyed("stored"))
        .await
        .expect("the message is sent");
    // Twenty resends of a stored key, twenty sends of one new key (the
    // first is written, in whichever batch, and the others find it), and
    // twenty messages without a key, all queued at once.
    let news = (0..60)
        .map(|n| match n % 3 {
            0 => keyed("stored"),
            1 => keyed("new"),
            _ => new_message("chat:outbox", "alice", "plain"),
        })
        .collect();
    let before = store.stats();
    let sent = send_all_at_once(&store, news).await;
    // All in bulk: no batch fell back to one send at a time (where the
    // unique index on the keys would have sorted the repeats out too).
    let statements = store.stats().statements - before.statements;
    assert!(statements < 60, "60 sends took {statements} statements");

    for (_, resent) in sent
        .iter()
        .filter(|(new, _)| new.client_msg_id.as_deref() == Some("stored"))
    {
        assert_eq!(resent.message, old.message, "the stored message, unchanged");
        assert!(resent.publication.is_none(), "a resend appends nothing");
    }
    let new_key: Vec<&Sent> = sent
        .iter()
        .filter(|(new, _)| new.client_msg_id.as_deref() == Some("new"))
        .map(|(_, sent)| sent)
        .collect();
    let written: Vec<&&Sent> = new_key
        .iter()
        .filter(|sent| sent.publication.is_some())
        .collect();
    assert_eq!(written.len(), 1, "one of the sends of a key is written");
    for sent in &new_key {
        assert_eq!(
            sent.message, written[0].message,
            "the others answer with it"
        );
    }

    // The stored message, the new key's message and the twenty plain ones.
    let recovery = store
        .publications_after(APP, &channel("chat:outbox"), 0, 100)
        .await
        .expect("read back");
    assert!(recovery.complete);
    assert_eq!(recovery.position.offset, 22);
    let mut offsets: Vec<u64> = sent
        .iter()
        .filter(|(_, sent)| sent.publication.is_some())
        .map(|(_, sent)| sent.message.offset)
        .collect();
    offsets.sort_unstable();
    assert_eq!(offsets, (2..=22).collect::<Vec<_>>());
    store.close().await;
}

async fn publications_in_bulk_take_gapless_offsets_in_a_few_statements(db: TestDb) {
    let store = db.open().await;
    let before = store.stats();
    let tasks: Vec<_> = (0..300)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = format!("chat:feed{}", n % 7);
                let data = Bytes::from(format!("event {n}"));
                let publication = store
                    .publish(Arc::from(APP), channel(&name), data.clone(), None)
                    .await
                    .expect("published");
                (name, data, publication)
            })
        })
        .collect();
    let mut published = Vec::new();
    for task in tasks {
        published.push(task.await.expect("the task finished"));
    }
    let after = store.stats();
    let statements = after.statements - before.statements;
    assert_eq!(after.operations - before.operations, 300);
    // One by one, a publication is two statements (stream, event).
    assert!(
        statements < 150,
        "300 publications took {statements} statements in {} transactions",
        after.transactions - before.transactions
    );
    for feed in 0..7 {
        let name = format!("chat:feed{feed}");
        let recovery = store
            .publications_after(APP, &channel(&name), 0, 100)
            .await
            .expect("read back");
        assert!(recovery.complete);
        let mut answered: Vec<_> = published
            .iter()
            .filter(|(channel_name, _, _)| *channel_name == name)
            .map(|(_, data, publication)| (publication.position.offset, data.clone()))
            .collect();
        answered.sort();
        let stored: Vec<_> = recovery
            .publications
            .iter()
            .map(|publication| (publication.position.offset, publication.data.clone()))
            .collect();
        assert_eq!(stored, answered, "{name}: each answer is what was stored");
        let offsets: Vec<u64> = stored.iter().map(|(offset, _)| *offset).collect();
        assert_eq!(offsets, (1..=offsets.len() as u64).collect::<Vec<_>>());
    }
    store.close().await;
}

/// Writers in a closed loop, as busy chat clients are: each sends its next
/// message as soon as the previous one is answered, and every fifth turn
/// first tries to edit someone else's message, which is refused, so
/// batches of every size mix refusals with sends. Whatever batch each
/// write ends up in: every send is stored at the offset it was answered
/// with, each channel's offsets have no gap, and the refused edits change
/// nothing and take no offset.
async fn a_closed_loop_of_writers_loses_nothing_and_refusals_stay_alone(db: TestDb) {
    const WRITERS: usize = 40;
    const TURNS: usize = 15;
    const CHANNELS: usize = 4;
    let store = db.open().await;
    let target = send(&store, "chat:loop0", "alice", "original").await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            let target = id(&target);
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for turn in 0..TURNS {
                    if turn % 5 == 4 {
                        assert_foreign_edit_refused(&store, target, format!("writer{writer}"))
                            .await;
                    }
                    let channel_name = format!("chat:loop{}", (writer + turn) % CHANNELS);
                    let text = format!("writer {writer} turn {turn}");
                    let answer =
                        send(&store, &channel_name, &format!("writer{writer}"), &text).await;
                    sent.push((channel_name, text, answer));
                }
                sent
            })
        })
        .collect();
    let mut offsets: Vec<Vec<u64>> = vec![Vec::new(); CHANNELS];
    offsets[0].push(target.message.offset);
    for writer in writers {
        for (channel_name, text, answer) in writer.await.expect("the writer finished") {
            let stored = store
                .message(APP, answer.message.id)
                .await
                .expect("an answered send is stored");
            assert_eq!(stored.text, text);
            assert_eq!(stored.offset, answer.message.offset);
            assert_eq!(stored.channel.as_str(), channel_name);
            let index: usize = channel_name["chat:loop".len()..].parse().unwrap();
            offsets[index].push(answer.message.offset);
        }
    }
    for (index, mut offsets) in offsets.into_iter().enumerate() {
        offsets.sort_unstable();
        let count = offsets.len() as u64;
        assert_eq!(
            offsets,
            (1..=count).collect::<Vec<_>>(),
            "chat:loop{index}: gapless, and no offset taken by a refused edit"
        );
        let position = store
            .stream(APP, &channel(&format!("chat:loop{index}")))
            .await
            .expect("the stream");
        assert_eq!(position.offset, count);
    }
    let original = store.message(APP, id(&target)).await.expect("stored");
    assert_eq!(original.text, "original");
    assert_eq!(original.edited_at, None);
    let stats = store.stats();
    assert_eq!(
        stats.operations,
        1 + (WRITERS * TURNS) as u64 + (WRITERS * (TURNS / 5)) as u64,
        "every write answered once: {stats:?}"
    );
    store.close().await;
}
