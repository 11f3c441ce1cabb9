//! Threads and pins over the real wire, each test on SQLite and on
//! PostgreSQL.

use crate::common;

use common::chat::{room, start_with_boards as start};
use common::{Backend, Client, SECRET, on_both_backends, push_named, token_with};
use serde_json::json;

on_both_backends!(thread_counts_and_pages, pins_by_moderators, pins_by_members);

async fn thread_counts_and_pages(backend: Backend) {
    let server = start(backend).await;
    let mut watcher = server.user("watcher").await;
    watcher.ok("subscribe", json!({"channel": "talk:t"})).await;
    let mut alice = server.user("alice").await;
    let parent = alice
        .ok(
            "message_send",
            json!({"channel": "talk:t", "text": "question"}),
        )
        .await;
    push_named(&mut watcher, "message_created").await;
    let parent_id = parent["id"].as_str().unwrap().to_owned();
    let mut replies = Vec::new();
    for user in ["bob", "carol", "dave", "bob", "erin"] {
        let mut client = server.user(user).await;
        let reply = client
            .ok(
                "message_send",
                json!({"channel": "talk:t", "text": format!("answer from {user}"), "reply_to": parent_id}),
            )
            .await;
        assert_eq!(reply["reply_to"], parent_id.as_str());
        let created = push_named(&mut watcher, "message_created").await;
        assert_eq!(created["data"], reply);
        let updated = push_named(&mut watcher, "message_updated").await;
        assert_eq!(updated["data"]["id"], parent_id.as_str());
        assert_eq!(updated["offset"], created["offset"].as_u64().unwrap() + 1);
        replies.push(reply);
    }
    let updated = alice
        .ok(
            "messages",
            json!({"channel": "talk:t", "around": parent_id, "limit": 1}),
        )
        .await;
    let parent_now = &updated["messages"][0];
    assert_eq!(parent_now["reply_count"], 5);
    assert_eq!(parent_now["repliers"], json!(["erin", "bob", "dave"]));

    let page = alice
        .ok("thread", json!({"message_id": parent_id, "limit": 3}))
        .await;
    assert_eq!(page["parent"]["id"], parent_id.as_str());
    let texts: Vec<&str> = page["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| reply["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["answer from dave", "answer from bob", "answer from erin"]
    );
    assert_eq!(page["has_more"], true);
    let older = alice
        .ok(
            "thread",
            json!({"message_id": parent_id, "before": page["replies"][0]["id"], "limit": 3}),
        )
        .await;
    assert_eq!(older["replies"].as_array().unwrap().len(), 2);
    assert_eq!(older["replies"][0]["text"], "answer from bob");
    assert_eq!(older["has_more"], false);

    // A reply to a message of another channel, an unknown parent, a
    // thread in a room one is not in.
    let elsewhere = alice
        .ok(
            "message_send",
            json!({"channel": "talk:other", "text": "x"}),
        )
        .await;
    assert_eq!(
        alice
            .error_code(
                "message_send",
                json!({"channel": "talk:t", "text": "y", "reply_to": elsewhere["id"]})
            )
            .await,
        400
    );
    assert_eq!(
        alice
            .error_code("thread", json!({"message_id": "999999"}))
            .await,
        404
    );
    let created = alice
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": "team", "members": []}),
        )
        .await;
    let room = created["room"]["channel"].as_str().unwrap();
    let secret = alice
        .ok("message_send", json!({"channel": room, "text": "inner"}))
        .await;
    let mut bob = server.user("bob").await;
    assert_eq!(
        bob.error_code("thread", json!({"message_id": secret["id"]}))
            .await,
        403
    );
    server.stop().await;
}

async fn pins_by_moderators(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let room = room(&mut alice, "team", &["bob"]).await;
    bob.ok("subscribe", json!({"channel": room})).await;
    let message = bob
        .ok("message_send", json!({"channel": room, "text": "pin me"}))
        .await;
    let id = message["id"].as_str().unwrap().to_owned();

    // A plain member may not pin; the room's owner may.
    assert_eq!(
        bob.error_code("message_pin", json!({"channel": room, "message_id": id}))
            .await,
        403
    );
    let pinned = alice
        .ok("message_pin", json!({"channel": room, "message_id": id}))
        .await;
    assert_eq!(pinned["pinned"], true);
    assert_eq!(pinned["by"], "alice");
    let push = push_named(&mut bob, "message_pinned").await;
    assert_eq!(push["data"]["message"]["id"], id.as_str());
    assert!(push["offset"].is_u64());
    let pins = bob.ok("pins", json!({"channel": room})).await;
    assert_eq!(pins["pins"].as_array().unwrap().len(), 1);
    assert_eq!(pins["pins"][0]["message"]["text"], "pin me");

    alice
        .ok("message_unpin", json!({"channel": room, "message_id": id}))
        .await;
    let push = push_named(&mut bob, "message_unpinned").await;
    assert_eq!(push["data"]["pinned"], false);
    assert_eq!(
        bob.ok("pins", json!({"channel": room})).await["pins"],
        json!([])
    );

    // A token moderator pins in a channel without rooms; others may not.
    let mut moderator = Client::open(&server.ws_url()).await;
    moderator
        .ok(
            "connect",
            json!({"token": token_with(SECRET, "mod", |claims| claims.roles = vec!["moderator".into()])}),
        )
        .await;
    let open = bob
        .ok(
            "message_send",
            json!({"channel": "talk:pins", "text": "notice"}),
        )
        .await;
    assert_eq!(
        bob.error_code(
            "message_pin",
            json!({"channel": "talk:pins", "message_id": open["id"]})
        )
        .await,
        403
    );
    moderator
        .ok(
            "message_pin",
            json!({"channel": "talk:pins", "message_id": open["id"]}),
        )
        .await;
    // Unknown messages, or a message of another channel.
    assert_eq!(
        moderator
            .error_code(
                "message_pin",
                json!({"channel": "talk:pins", "message_id": id})
            )
            .await,
        404
    );
    // Non-members do not see a room's pins.
    let mut carol = server.user("carol").await;
    assert_eq!(
        carol.error_code("pins", json!({"channel": room})).await,
        403
    );
    server.stop().await;
}

async fn pins_by_members(backend: Backend) {
    let server = start(backend).await;
    let mut bob = server.user("bob").await;
    let message = bob
        .ok(
            "message_send",
            json!({"channel": "board:1", "text": "mine"}),
        )
        .await;
    bob.ok(
        "message_pin",
        json!({"channel": "board:1", "message_id": message["id"]}),
    )
    .await;
    // Pinning twice changes nothing; a deleted message leaves the list.
    bob.ok(
        "message_pin",
        json!({"channel": "board:1", "message_id": message["id"]}),
    )
    .await;
    assert_eq!(
        bob.ok("pins", json!({"channel": "board:1"})).await["pins"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    bob.ok("message_delete", json!({"id": message["id"]})).await;
    assert_eq!(
        bob.ok("pins", json!({"channel": "board:1"})).await["pins"],
        json!([])
    );
    server.stop().await;
}
