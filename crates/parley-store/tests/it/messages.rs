//! Chat messages: sending, idempotency, edits, deletes and pages, on both
//! backends.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::{APP, TestDb, channel, encode, id, new_message, send};
use parley_core::PublicationKind;
use parley_store::{
    DeleteMode, HistoryCursor, HistoryQuery, Message, MessageCursor, MessageDelete, MessageEdit,
    MessageHide, MessageId, MessageQuery, NewMessage, Order, SearchQuery, SearchScope, Store,
    StoreError, Visibility,
};

store_tests!(
    a_sent_message_is_stored_with_its_publication,
    resending_a_client_msg_id_returns_the_original,
    the_author_edits_and_the_trail_keeps_earlier_texts,
    only_the_author_edits,
    the_author_soft_deletes_leaving_a_tombstone,
    a_moderator_deletes_anyones_message,
    a_moderator_hard_deletes,
    deleting_redacts_earlier_events,
    pages_before_after_and_around_in_both_orders,
    replies_must_stay_in_the_channel,
    empty_text_is_refused,
    nothing_crosses_apps,
    the_author_profile_is_stored_with_the_message_and_read_back_everywhere,
    sends_in_bulk_store_each_authors_profile,
    the_total_counts_what_readers_see_through_sends_deletes_and_hides,
);

fn edit(id: MessageId, editor: &str, text: &str) -> MessageEdit {
    MessageEdit {
        app: Arc::from(APP),
        id,
        editor: editor.to_owned(),
        text: text.to_owned(),
    }
}

fn delete(id: MessageId, actor: &str, moderator: bool, mode: DeleteMode) -> MessageDelete {
    MessageDelete {
        app: Arc::from(APP),
        id,
        actor: actor.to_owned(),
        actor_is_moderator: moderator,
        mode,
    }
}

async fn a_sent_message_is_stored_with_its_publication(db: TestDb) {
    let store = db.open().await;
    let mut new = new_message("chat:lobby", "alice", "hello");
    new.meta = Some(Bytes::from_static(br#"{"mood":"happy"}"#));
    let sent = store.send_message(new).await.expect("sent");

    let message = &sent.message;
    assert!(message.id.get() > 0);
    assert_eq!(message.offset, 1);
    assert_eq!(message.author, "alice");
    assert_eq!(message.text, "hello");
    assert_eq!(message.meta.as_deref(), Some(&br#"{"mood":"happy"}"#[..]));
    let publication = sent.publication.expect("a new message has a publication");
    assert_eq!(publication.kind, Message::CREATED);
    assert_eq!(publication.position.offset, 1);
    assert_eq!(publication.message_id, Some(message.id));
    assert_eq!(
        publication.data,
        encode(PublicationKind::from(Message::CREATED), message)
    );

    assert_eq!(
        &store.message(APP, message.id).await.expect("stored"),
        message
    );
    let history = store
        .history(
            APP,
            &channel("chat:lobby"),
            HistoryQuery {
                cursor: HistoryCursor::Newest,
                limit: 10,
            },
        )
        .await
        .expect("history");
    assert_eq!(history.publications, vec![publication]);
    store.close().await;
}

async fn resending_a_client_msg_id_returns_the_original(db: TestDb) {
    let store = db.open().await;
    let mut new = new_message("chat:lobby", "alice", "hello");
    new.client_msg_id = Some("c-1".into());
    let first = store.send_message(new.clone()).await.expect("sent");
    assert!(first.publication.is_some());

    new.text = "hello again".into();
    let again = store.send_message(new.clone()).await.expect("resent");
    assert_eq!(again.message, first.message);
    assert_eq!(again.publication, None, "a resend appends nothing");

    // The key is per author: another user may use the same one.
    new.author = "bob".into();
    let bob = store.send_message(new).await.expect("sent by bob");
    assert_ne!(bob.message.id, first.message.id);
    assert_eq!(bob.message.offset, 2, "the resend took no offset");
    store.close().await;
}

async fn the_author_edits_and_the_trail_keeps_earlier_texts(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "helo").await;

    let first = store
        .edit_message(edit(id(&sent), "alice", "hello"))
        .await
        .expect("edited");
    assert_eq!(first.message.text, "hello");
    assert!(first.message.edited_at.is_some());
    assert_eq!(first.message.offset, 1, "a message keeps its place");
    assert_eq!(first.publication.kind, Message::UPDATED);
    assert_eq!(first.publication.position.offset, 2);
    assert_eq!(
        first.publication.data,
        encode(PublicationKind::from(Message::UPDATED), &first.message)
    );

    store
        .edit_message(edit(id(&sent), "alice", "hello!"))
        .await
        .expect("edited twice");
    let trail = store.edit_trail(APP, id(&sent)).await.expect("trail");
    let texts: Vec<_> = trail.iter().map(|r| (r.number, r.text.as_str())).collect();
    assert_eq!(texts, [(1, "helo"), (2, "hello")]);
    assert_eq!(
        store.message(APP, id(&sent)).await.expect("stored").text,
        "hello!"
    );
    store.close().await;
}

async fn only_the_author_edits(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "hello").await;

    let refused = store
        .edit_message(edit(id(&sent), "mallory", "pwned"))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Forbidden(_))),
        "{refused:?}"
    );
    let missing = store
        .edit_message(edit(MessageId::new(9_999_999), "alice", "x"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    assert_eq!(
        store.message(APP, id(&sent)).await.expect("stored").text,
        "hello"
    );
    assert!(
        store
            .edit_trail(APP, id(&sent))
            .await
            .expect("trail")
            .is_empty()
    );
    // The refused edit took no offset: the stream stays gapless.
    let next = send(&store, "chat:lobby", "bob", "next").await;
    assert_eq!(next.message.offset, 2);
    store.close().await;
}

async fn the_author_soft_deletes_leaving_a_tombstone(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "oops").await;
    let refused = store
        .delete_message(delete(id(&sent), "bob", false, DeleteMode::Soft))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Forbidden(_))),
        "{refused:?}"
    );

    let deleted = store
        .delete_message(delete(id(&sent), "alice", false, DeleteMode::Soft))
        .await
        .expect("deleted");
    assert!(deleted.message.is_deleted());
    assert_eq!(deleted.message.text, "");
    assert_eq!(deleted.publication.kind, Message::DELETED);
    assert_eq!(deleted.publication.position.offset, 2);

    let tombstone = store.message(APP, id(&sent)).await.expect("the row stays");
    assert_eq!(tombstone, deleted.message);
    let page = store
        .messages(
            APP,
            &channel("chat:lobby"),
            MessageQuery {
                cursor: MessageCursor::Newest,
                order: Order::NewestFirst,
                limit: 10,
                total: false,
            },
        )
        .await
        .expect("page");
    assert_eq!(page.messages, vec![tombstone]);

    let again = store
        .delete_message(delete(id(&sent), "alice", false, DeleteMode::Soft))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    let edit_tombstone = store.edit_message(edit(id(&sent), "alice", "back")).await;
    assert!(
        matches!(edit_tombstone, Err(StoreError::NotFound(_))),
        "{edit_tombstone:?}"
    );
    store.close().await;
}

async fn a_moderator_deletes_anyones_message(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "spam").await;
    let refused = store
        .delete_message(delete(id(&sent), "bob", false, DeleteMode::Hard))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Forbidden(_))),
        "{refused:?}"
    );
    let author_hard = store
        .delete_message(delete(id(&sent), "alice", false, DeleteMode::Hard))
        .await;
    assert!(
        matches!(author_hard, Err(StoreError::Forbidden(_))),
        "only moderators hard-delete: {author_hard:?}"
    );

    let deleted = store
        .delete_message(delete(id(&sent), "mod", true, DeleteMode::Soft))
        .await
        .expect("a moderator deletes");
    assert!(deleted.message.is_deleted());
    assert_eq!(deleted.message.author, "alice");
    assert!(
        store
            .message(APP, id(&sent))
            .await
            .expect("tombstone")
            .is_deleted()
    );
    store.close().await;
}

async fn a_moderator_hard_deletes(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "illegal").await;
    store
        .edit_message(edit(id(&sent), "alice", "still illegal"))
        .await
        .expect("edited");

    let deleted = store
        .delete_message(delete(id(&sent), "mod", true, DeleteMode::Hard))
        .await
        .expect("hard-deleted");
    assert_eq!(deleted.publication.kind, Message::DELETED);
    assert_eq!(deleted.publication.position.offset, 3);
    assert_eq!(deleted.publication.message_id, Some(id(&sent)));

    let gone = store.message(APP, id(&sent)).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
    let trail = store.edit_trail(APP, id(&sent)).await;
    assert!(matches!(trail, Err(StoreError::NotFound(_))), "{trail:?}");
    let page = store
        .messages(
            APP,
            &channel("chat:lobby"),
            MessageQuery {
                cursor: MessageCursor::Newest,
                order: Order::OldestFirst,
                limit: 10,
                total: false,
            },
        )
        .await
        .expect("page");
    assert!(page.messages.is_empty());
    assert!(!page.has_older && !page.has_newer);

    // A soft-deleted message can still be removed by a moderator.
    let other = send(&store, "chat:lobby", "bob", "hm").await;
    store
        .delete_message(delete(id(&other), "bob", false, DeleteMode::Soft))
        .await
        .expect("soft-deleted");
    store
        .delete_message(delete(id(&other), "mod", true, DeleteMode::Hard))
        .await
        .expect("then hard-deleted");
    assert!(store.message(APP, id(&other)).await.is_err());
    store.close().await;
}

async fn deleting_redacts_earlier_events(db: TestDb) {
    let store = db.open().await;
    let sent = send(&store, "chat:lobby", "alice", "my secret").await;
    store
        .edit_message(edit(id(&sent), "alice", "my other secret"))
        .await
        .expect("edited");
    let deleted = store
        .delete_message(delete(id(&sent), "alice", false, DeleteMode::Soft))
        .await
        .expect("deleted");

    let recovery = store
        .publications_after(APP, &channel("chat:lobby"), 0, 100)
        .await
        .expect("recovery");
    let events: Vec<_> = recovery
        .publications
        .iter()
        .map(|p| (p.position.offset, p.kind.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (1, PublicationKind::from(Message::CREATED)),
            (2, PublicationKind::from(Message::UPDATED)),
            (3, PublicationKind::from(Message::DELETED)),
        ]
    );
    for publication in &recovery.publications {
        assert_eq!(
            publication.data,
            encode(publication.kind.clone(), &deleted.message),
            "every event now carries the tombstone"
        );
        let text = String::from_utf8_lossy(&publication.data);
        assert!(!text.contains("secret"), "{text}");
    }
    assert!(
        store
            .edit_trail(APP, id(&sent))
            .await
            .expect("trail")
            .is_empty()
    );
    store.close().await;
}

async fn pages_before_after_and_around_in_both_orders(db: TestDb) {
    let store = db.open().await;
    let lobby = channel("chat:lobby");
    let mut ids = Vec::new();
    for n in 1..=10 {
        ids.push(id(
            &send(&store, "chat:lobby", "alice", &format!("m{n}")).await
        ));
        // Another channel's messages never show up in this one's pages.
        send(&store, "chat:other", "bob", "noise").await;
    }
    let texts = |page: &parley_store::MessagePage| {
        page.messages
            .iter()
            .map(|m| m.text.clone())
            .collect::<Vec<_>>()
    };
    let query = |cursor, order, limit| MessageQuery {
        cursor,
        order,
        limit,
        total: false,
    };

    let newest = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Newest, Order::NewestFirst, 3),
        )
        .await
        .expect("newest");
    assert_eq!(texts(&newest), ["m10", "m9", "m8"]);
    assert!(newest.has_older && !newest.has_newer);

    let oldest = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Oldest, Order::OldestFirst, 3),
        )
        .await
        .expect("oldest");
    assert_eq!(texts(&oldest), ["m1", "m2", "m3"]);
    assert!(!oldest.has_older && oldest.has_newer);

    let before = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Before(ids[7]), Order::NewestFirst, 3),
        )
        .await
        .expect("before");
    assert_eq!(texts(&before), ["m7", "m6", "m5"]);
    assert!(before.has_older && before.has_newer);

    let before_oldest_first = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Before(ids[2]), Order::OldestFirst, 5),
        )
        .await
        .expect("before, oldest first");
    assert_eq!(texts(&before_oldest_first), ["m1", "m2"]);
    assert!(!before_oldest_first.has_older && before_oldest_first.has_newer);

    let after = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::After(ids[6]), Order::OldestFirst, 2),
        )
        .await
        .expect("after");
    assert_eq!(texts(&after), ["m8", "m9"]);
    assert!(after.has_older && after.has_newer);

    let after_end = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::After(ids[9]), Order::NewestFirst, 5),
        )
        .await
        .expect("after the newest");
    assert!(after_end.messages.is_empty());
    assert!(after_end.has_older && !after_end.has_newer);

    let around = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Around(ids[4]), Order::OldestFirst, 5),
        )
        .await
        .expect("around");
    assert_eq!(texts(&around), ["m3", "m4", "m5", "m6", "m7"]);
    assert!(around.has_older && around.has_newer);

    let around_start = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Around(ids[0]), Order::NewestFirst, 4),
        )
        .await
        .expect("around the first");
    assert_eq!(texts(&around_start), ["m3", "m2", "m1"]);
    assert!(!around_start.has_older && around_start.has_newer);

    let capped = store
        .messages(
            APP,
            &lobby,
            query(MessageCursor::Newest, Order::NewestFirst, 10_000),
        )
        .await
        .expect("capped");
    assert_eq!(capped.messages.len(), 10);

    let elsewhere = store
        .messages(
            APP,
            &channel("chat:other"),
            query(MessageCursor::Before(ids[3]), Order::NewestFirst, 3),
        )
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound(_))),
        "a cursor from another channel: {elsewhere:?}"
    );
    store.close().await;
}

async fn replies_must_stay_in_the_channel(db: TestDb) {
    let store = db.open().await;
    let question = send(&store, "chat:lobby", "alice", "why?").await;
    let elsewhere = send(&store, "chat:other", "alice", "hm").await;

    let mut answer = new_message("chat:lobby", "bob", "because");
    answer.reply_to = Some(id(&question));
    let sent = store.send_message(answer.clone()).await.expect("a reply");
    assert_eq!(sent.message.reply_to, Some(id(&question)));

    answer.reply_to = Some(id(&elsewhere));
    let refused = store.send_message(answer.clone()).await;
    assert!(
        matches!(refused, Err(StoreError::InvalidInput(_))),
        "{refused:?}"
    );
    answer.reply_to = Some(MessageId::new(9_999_999));
    let missing = store.send_message(answer).await;
    assert!(
        matches!(missing, Err(StoreError::InvalidInput(_))),
        "{missing:?}"
    );
    store.close().await;
}

async fn empty_text_is_refused(db: TestDb) {
    let store = db.open().await;
    let empty = store
        .send_message(new_message("chat:lobby", "alice", ""))
        .await;
    assert!(
        matches!(empty, Err(StoreError::InvalidInput(_))),
        "{empty:?}"
    );
    let sent = send(&store, "chat:lobby", "alice", "hi").await;
    let emptied = store.edit_message(edit(id(&sent), "alice", "")).await;
    assert!(
        matches!(emptied, Err(StoreError::InvalidInput(_))),
        "{emptied:?}"
    );
    store.close().await;
}

async fn nothing_crosses_apps(db: TestDb) {
    let store = db.open().await;
    let ours = send(&store, "chat:lobby", "alice", "ours").await;
    let mut theirs = new_message("chat:lobby", "alice", "theirs");
    theirs.app = Arc::from("app2");
    let theirs = store.send_message(theirs).await.expect("sent in app2");
    assert_eq!(theirs.message.offset, 1, "each app has its own stream");

    assert!(matches!(
        store.message("app2", id(&ours)).await,
        Err(StoreError::NotFound(_))
    ));
    let mut foreign_edit = edit(id(&ours), "alice", "changed from app2");
    foreign_edit.app = Arc::from("app2");
    assert!(matches!(
        store.edit_message(foreign_edit).await,
        Err(StoreError::NotFound(_))
    ));
    let mut foreign_delete = delete(id(&ours), "mod", true, DeleteMode::Hard);
    foreign_delete.app = Arc::from("app2");
    assert!(matches!(
        store.delete_message(foreign_delete).await,
        Err(StoreError::NotFound(_))
    ));
    let page = store
        .messages(
            APP,
            &channel("chat:lobby"),
            MessageQuery {
                cursor: MessageCursor::Newest,
                order: Order::OldestFirst,
                limit: 10,
                total: false,
            },
        )
        .await
        .expect("page");
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].text, "ours");
    store.close().await;
}

/// A message from `author` with a profile.
fn with_profile(channel: &str, author: &str, name: &str, text: &str) -> NewMessage {
    NewMessage {
        author_name: Some(name.to_owned()),
        author_avatar: Some(format!("https://cdn.example/{author}.png")),
        ..new_message(channel, author, text)
    }
}

async fn the_author_profile_is_stored_with_the_message_and_read_back_everywhere(db: TestDb) {
    let store = db.open().await;
    let sent = store
        .send_message(with_profile("chat:lobby", "alice", "Alice A.", "hello"))
        .await
        .expect("sent");
    let message = &sent.message;
    assert_eq!(message.author_name.as_deref(), Some("Alice A."));
    assert_eq!(
        message.author_avatar.as_deref(),
        Some("https://cdn.example/alice.png")
    );
    // The event carries the profile: the encoder writes it from the row.
    let publication = sent.publication.clone().expect("a new message");
    assert!(
        String::from_utf8_lossy(&publication.data).contains(r#"name=Some("Alice A.")"#),
        "{publication:?}"
    );
    assert_eq!(&store.message(APP, message.id).await.unwrap(), message);

    // A reply (sent one by one) keeps its own author's profile, and the
    // thread and search read it back.
    let reply = store
        .send_message(NewMessage {
            reply_to: Some(message.id),
            ..with_profile("chat:lobby", "bob", "Bob", "hello back")
        })
        .await
        .expect("replied");
    let thread = store.thread(APP, message.id, None, 10).await.unwrap();
    assert_eq!(thread.parent.author_name.as_deref(), Some("Alice A."));
    assert_eq!(thread.replies, vec![reply.message.clone()]);
    let found = store
        .search(
            APP,
            SearchQuery {
                words: vec!["hello".to_owned()],
                scope: SearchScope::Channel(channel("chat:lobby")),
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = found
        .messages
        .iter()
        .map(|m| m.author_name.as_deref())
        .collect();
    assert_eq!(names, vec![Some("Bob"), Some("Alice A.")]);

    // An edit keeps the profile the message was sent with, even when the
    // author's name changed since.
    store
        .send_message(with_profile("chat:lobby", "alice", "Alice B.", "renamed"))
        .await
        .expect("sent");
    let edited = store
        .edit_message(edit(message.id, "alice", "hello, edited"))
        .await
        .expect("edited");
    assert_eq!(edited.message.author_name.as_deref(), Some("Alice A."));
    let page = store
        .messages(
            APP,
            &channel("chat:lobby"),
            MessageQuery {
                cursor: MessageCursor::Oldest,
                order: Order::OldestFirst,
                limit: 10,
                total: false,
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = page
        .messages
        .iter()
        .map(|m| m.author_name.as_deref())
        .collect();
    assert_eq!(names, vec![Some("Alice A."), Some("Bob"), Some("Alice B.")]);
    assert_eq!(page.total, None, "not asked for");

    // Without a profile, the fields stay empty.
    let plain = send(&store, "chat:lobby", "carol", "no profile").await;
    assert_eq!(plain.message.author_name, None);
    assert_eq!(
        store
            .message(APP, plain.message.id)
            .await
            .unwrap()
            .author_avatar,
        None
    );
    store.close().await;
}

async fn sends_in_bulk_store_each_authors_profile(db: TestDb) {
    let store = db.open().await;
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            let new = with_profile(
                &format!("chat:bulk{}", n % 3),
                &format!("user{n}"),
                &format!("User {n}"),
                "hi",
            );
            tokio::spawn(async move { store.send_message(new).await.expect("sent") })
        })
        .collect();
    for (n, task) in tasks.into_iter().enumerate() {
        let sent = task.await.expect("the task finished");
        let name = format!("User {n}");
        assert_eq!(sent.message.author_name.as_deref(), Some(name.as_str()));
        let stored = store.message(APP, sent.message.id).await.unwrap();
        assert_eq!(stored.author_name.as_deref(), Some(name.as_str()));
        assert_eq!(
            stored.author_avatar,
            Some(format!("https://cdn.example/user{n}.png"))
        );
        let publication = sent.publication.expect("appended");
        assert_eq!(
            publication.data,
            encode(PublicationKind::from(Message::CREATED), &stored)
        );
    }
    store.close().await;
}

/// The channel's total, read with a page as a client asks for it.
async fn total(store: &Store, name: &str) -> u64 {
    let page = store
        .messages(
            APP,
            &channel(name),
            MessageQuery {
                cursor: MessageCursor::Newest,
                order: Order::NewestFirst,
                limit: 1,
                total: true,
            },
        )
        .await
        .expect("page");
    let total = page.total.expect("asked for");
    assert_eq!(
        store.message_total(APP, &channel(name)).await.unwrap(),
        total
    );
    total
}

async fn the_total_counts_what_readers_see_through_sends_deletes_and_hides(db: TestDb) {
    let store = db.open().await;
    assert_eq!(total(&store, "chat:count").await, 0, "no stream yet");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(id(
            &send(&store, "chat:count", "alice", &format!("m{n}")).await
        ));
    }
    // Sent at once: the writer takes them in bulk.
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = store.clone();
            let new = new_message("chat:count", &format!("u{n}"), "bulk");
            tokio::spawn(async move { store.send_message(new).await.expect("sent") })
        })
        .collect();
    for task in tasks {
        task.await.expect("sent");
    }
    assert_eq!(total(&store, "chat:count").await, 25);
    // A reply counts; a shadow message does not; other channels are apart.
    store
        .send_message(NewMessage {
            reply_to: Some(ids[0]),
            ..new_message("chat:count", "bob", "a reply")
        })
        .await
        .unwrap();
    store
        .send_message(NewMessage {
            shadow: true,
            ..new_message("chat:count", "troll", "only I see this")
        })
        .await
        .unwrap();
    send(&store, "chat:other", "bob", "elsewhere").await;
    assert_eq!(total(&store, "chat:count").await, 26);

    // A soft delete takes one off; hard-deleting that tombstone takes no
    // second one; a hard delete of a live message takes one.
    store
        .delete_message(delete(ids[1], "alice", false, DeleteMode::Soft))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 25);
    store
        .delete_message(delete(ids[1], "mod", true, DeleteMode::Hard))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 25);
    store
        .delete_message(delete(ids[2], "mod", true, DeleteMode::Hard))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 24);
    // A refused delete changes nothing.
    assert!(
        store
            .delete_message(delete(ids[3], "mallory", false, DeleteMode::Soft))
            .await
            .is_err()
    );
    assert_eq!(total(&store, "chat:count").await, 24);

    // Hidden, a message leaves the total; shown again, it is back; deleted
    // while hidden, it is not taken off twice.
    let hide = |id, visibility| MessageHide {
        app: Arc::from(APP),
        id,
        visibility,
    };
    store
        .hide_message(hide(ids[3], Visibility::Hidden))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 23);
    store
        .hide_message(hide(ids[3], Visibility::Shown))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 24);
    store
        .hide_message(hide(ids[4], Visibility::Hidden))
        .await
        .unwrap();
    store
        .delete_message(delete(ids[4], "mod", true, DeleteMode::Soft))
        .await
        .unwrap();
    assert_eq!(total(&store, "chat:count").await, 23);
    assert_eq!(total(&store, "chat:other").await, 1);
    store.close().await;
}
