//! Read markers, unread counts and mentions over the real wire, each test
//! on SQLite and on PostgreSQL.

use crate::common;

use std::time::Duration;

use common::chat::{room, start_with_receipts as start};
use common::{Backend, Client, TestServer, on_both_backends, push_named};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    unread_counts_read_marks_and_mentions,
    receipts_visible_or_private,
    unread_in_channels_without_rooms,
);

async fn connect_reply(server: &TestServer, user: &str) -> Value {
    let mut client = Client::open(&server.ws_url()).await;
    client
        .ok("connect", json!({"token": server.token(user)}))
        .await
}

async fn unread_counts_read_marks_and_mentions(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let room = room(&mut alice, "quiet", &["bob"]).await;
    let mut ids = Vec::new();
    for (text, mentions) in [
        ("one", json!([])),
        ("two, @bob", json!(["bob"])),
        ("three", json!([])),
    ] {
        let sent = alice
            .ok(
                "message_send",
                json!({"channel": room, "text": text, "mentions": mentions}),
            )
            .await;
        ids.push(sent["id"].as_str().unwrap().to_owned());
    }

    let connected = connect_reply(&server, "bob").await;
    assert_eq!(connected["unread"], 3);
    // Alice's own messages are read for her.
    assert_eq!(connect_reply(&server, "alice").await["unread"], 0);

    let mut bob = server.user("bob").await;
    let unread = bob.ok("unread", json!({})).await;
    assert_eq!(unread["unread"], 3);
    assert_eq!(unread["mentions"], 1);
    assert_eq!(unread["channels"][0]["channel"], room.as_str());
    assert_eq!(unread["channels"][0]["unread"], 3);
    assert_eq!(unread["channels"][0]["mentions"], 1);

    let messages = bob.ok("messages", json!({"channel": room})).await;
    assert_eq!(messages["messages"][1]["mentions"], json!(["bob"]));

    let marked = bob
        .ok("read_mark", json!({"channel": room, "message_id": ids[1]}))
        .await;
    assert_eq!(marked["unread"], 1);
    assert_eq!(marked["moved"], true);
    let unread = bob.ok("unread", json!({})).await;
    assert_eq!(unread["unread"], 1);
    assert_eq!(unread["mentions"], 0);

    // read_mark never moves back.
    let stale = bob
        .ok("read_mark", json!({"channel": room, "message_id": ids[0]}))
        .await;
    assert_eq!(stale["moved"], false);
    assert_eq!(stale["unread"], 1);

    // mark_unread moves back: that message and everything after are unread.
    let back = bob
        .ok(
            "mark_unread",
            json!({"channel": room, "message_id": ids[1]}),
        )
        .await;
    assert_eq!(back["unread"], 2);
    assert_eq!(bob.ok("unread", json!({})).await["mentions"], 1);
    let not_forward = bob
        .ok(
            "mark_unread",
            json!({"channel": room, "message_id": ids[2]}),
        )
        .await;
    assert_eq!(not_forward["moved"], false);

    bob.ok("read_mark", json!({"channel": room, "message_id": ids[2]}))
        .await;
    let unread = bob.ok("unread", json!({})).await;
    assert_eq!(unread["unread"], 0);
    assert_eq!(unread["channels"], json!([]));
    assert_eq!(connect_reply(&server, "bob").await["unread"], 0);

    // A new message is one more unread, without touching the markers.
    alice
        .ok("message_send", json!({"channel": room, "text": "four"}))
        .await;
    assert_eq!(bob.ok("unread", json!({})).await["unread"], 1);
    let (status, counts) = server
        .api(Method::GET, "/api/v1/users/bob/unread", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(counts["unread"], 1);

    // Refusals: not a member, a message of another channel, bad ids.
    let mut carol = server.user("carol").await;
    assert_eq!(
        carol
            .error_code("read_mark", json!({"channel": room, "message_id": ids[0]}))
            .await,
        403
    );
    let other = bob
        .ok(
            "message_send",
            json!({"channel": "talk:x", "text": "elsewhere"}),
        )
        .await;
    assert_eq!(
        bob.error_code(
            "read_mark",
            json!({"channel": room, "message_id": other["id"]})
        )
        .await,
        404
    );
    assert_eq!(
        bob.error_code("read_mark", json!({"channel": room, "message_id": "x"}))
            .await,
        400
    );
    assert_eq!(
        alice
            .error_code(
                "message_send",
                json!({"channel": room, "text": "hi", "mentions": ["bad\nid"]})
            )
            .await,
        400
    );
    server.stop().await;
}

async fn receipts_visible_or_private(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let visible = room(&mut alice, "team", &["bob"]).await;
    let private = room(&mut alice, "quiet", &["bob"]).await;
    for channel in [&visible, &private] {
        alice.ok("subscribe", json!({"channel": channel})).await;
    }
    let in_visible = alice
        .ok("message_send", json!({"channel": visible, "text": "seen?"}))
        .await;
    let in_private = alice
        .ok("message_send", json!({"channel": private, "text": "seen?"}))
        .await;
    push_named(&mut alice, "message_created").await;
    push_named(&mut alice, "message_created").await;

    bob.ok(
        "read_mark",
        json!({"channel": private, "message_id": in_private["id"]}),
    )
    .await;
    assert!(alice.no_push_within(Duration::from_millis(300)).await);

    bob.ok(
        "read_mark",
        json!({"channel": visible, "message_id": in_visible["id"]}),
    )
    .await;
    let receipt = push_named(&mut alice, "read_updated").await;
    assert_eq!(receipt["channel"], visible.as_str());
    assert_eq!(receipt["data"]["user"], "bob");
    assert_eq!(receipt["data"]["last_read_offset"], in_visible["offset"]);
    assert_eq!(receipt["data"]["unread"], 0);
    let offset = receipt["offset"].as_u64().unwrap();

    // The receipt is in the stream: recovery replays it.
    let mut again = server.user("alice").await;
    let history = again
        .ok("history", json!({"channel": visible, "after": offset - 1}))
        .await;
    assert_eq!(history["publications"][0]["kind"], "read_updated");
    server.stop().await;
}

async fn unread_in_channels_without_rooms(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let first = alice
        .ok(
            "message_send",
            json!({"channel": "talk:lobby", "text": "a"}),
        )
        .await;
    bob.ok(
        "read_mark",
        json!({"channel": "talk:lobby", "message_id": first["id"]}),
    )
    .await;
    alice
        .ok(
            "message_send",
            json!({"channel": "talk:lobby", "text": "b"}),
        )
        .await;
    let unread = bob.ok("unread", json!({})).await;
    assert_eq!(unread["unread"], 1);
    assert_eq!(unread["channels"][0]["channel"], "talk:lobby");
    server.stop().await;
}
