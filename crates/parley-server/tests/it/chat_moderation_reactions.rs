//! Moderation meets attachments and reactions, over the real wire, each test
//! on SQLite and on PostgreSQL: hidden messages conceal their attachments
//! and reactions, block lists filter a blocked user's reaction events, and
//! mutes, bans and shadow mutes apply to reactions as to messages.

use crate::common;

use std::time::Duration;

use common::chat::moderator;
use common::{Backend, Client, TestServer, on_both_backends, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    hidden_messages_conceal_attachments_and_reactions,
    a_blocked_users_reactions_never_reach_the_blocker,
    muted_and_shadow_muted_users_react_as_they_send,
);

const QUIET: Duration = Duration::from_millis(300);

/// Uploads a small PDF as `user` and returns the upload.
async fn uploaded_pdf(server: &TestServer, user: &str) -> Value {
    let part = Part::bytes(b"%PDF-1.4\n%%EOF\n".to_vec())
        .file_name("a.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/uploads"))
        .bearer_auth(server.token(user))
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn first_message(client: &mut Client, channel: &str) -> Value {
    let page = client
        .ok(
            "messages",
            json!({"channel": channel, "order": "oldest_first"}),
        )
        .await;
    page["messages"][0].clone()
}

async fn history_kinds(client: &mut Client, channel: &str) -> Vec<String> {
    let page = client.ok("history", json!({"channel": channel})).await;
    page["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publication| publication["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn hidden_messages_conceal_attachments_and_reactions(backend: Backend) {
    let server = start(backend).await;
    let file = uploaded_pdf(&server, "alice").await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    let sent = alice
        .ok(
            "message_send",
            json!({"channel": "talk:a", "text": "look", "attachments": [file["id"]]}),
        )
        .await;
    bob.push().await;
    let id = sent["id"].clone();
    bob.ok("reaction_add", json!({"message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(bob.push().await["push"], "reaction_added");

    moderator.ok("message_hide", json!({"id": id})).await;
    let push = bob.push().await;
    assert_eq!(push["data"]["status"], "hidden");
    assert!(push["data"].get("attachments").is_none());
    let seen = first_message(&mut bob, "talk:a").await;
    assert_eq!(seen["status"], "hidden");
    assert_eq!(seen["text"], "");
    assert!(seen.get("attachments").is_none());
    assert_eq!(seen["reactions"], json!({}));
    let revealed = first_message(&mut moderator, "talk:a").await;
    assert_eq!(revealed["text"], "look");
    assert_eq!(revealed["attachments"][0]["id"], file["id"]);
    assert_eq!(revealed["reactions"]["👍"]["count"], 1);

    // A hidden message takes no reactions and loses none.
    for method in ["reaction_add", "reaction_remove"] {
        for client in [&mut bob, &mut moderator] {
            let params = json!({"message_id": id, "emoji": "👍"});
            assert_eq!(client.error_code(method, params).await, 404, "{method}");
        }
    }
    assert!(bob.no_push_within(QUIET).await);

    moderator.ok("message_unhide", json!({"id": id})).await;
    let push = bob.push().await;
    assert_eq!(push["data"]["text"], "look");
    assert_eq!(push["data"]["attachments"][0]["id"], file["id"]);
    let seen = first_message(&mut bob, "talk:a").await;
    assert_eq!(seen["attachments"][0]["id"], file["id"]);
    assert_eq!(seen["reactions"]["👍"], json!({"count": 1, "me": true}));
}

async fn a_blocked_users_reactions_never_reach_the_blocker(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;
    bob.ok("block", json!({"user": "carol"})).await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    alice.ok("subscribe", json!({"channel": "talk:a"})).await;
    let sent = alice
        .ok("message_send", json!({"channel": "talk:a", "text": "hi"}))
        .await;
    bob.push().await;
    alice.push().await;

    carol
        .ok(
            "reaction_add",
            json!({"message_id": sent["id"], "emoji": "🎉"}),
        )
        .await;
    carol
        .ok("reaction_add", json!({"channel": "talk:a", "emoji": "🎉"}))
        .await;
    let push = alice.push().await;
    assert_eq!(push["push"], "reaction_added");
    assert_eq!(push["data"]["user"], "carol");
    assert_eq!(alice.push().await["push"], "reaction_added");
    assert!(bob.no_push_within(QUIET).await, "blocked reactor");
    assert_eq!(
        history_kinds(&mut bob, "talk:a").await,
        vec!["message_created"]
    );
    assert_eq!(
        history_kinds(&mut alice, "talk:a").await,
        vec!["message_created", "reaction_added", "reaction_added"]
    );

    // Recovery leaves them out too.
    let mut bob_again = server.user("bob").await;
    let since = json!({"offset": 0, "epoch": push["epoch"]});
    let recovered = bob_again
        .ok("subscribe", json!({"channel": "talk:a", "since": since}))
        .await;
    assert_eq!(recovered["recovered"], true);
    assert_eq!(bob_again.push().await["push"], "message_created");
    assert!(bob_again.no_push_within(QUIET).await, "blocked reactor");
}

async fn muted_and_shadow_muted_users_react_as_they_send(backend: Backend) {
    let server = start(backend).await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    alice.ok("subscribe", json!({"channel": "talk:a"})).await;
    let sent = bob
        .ok("message_send", json!({"channel": "talk:a", "text": "hi"}))
        .await;
    bob.push().await;
    alice.push().await;
    let on_message = json!({"message_id": sent["id"], "emoji": "👍"});

    moderator
        .ok("mute", json!({"user": "alice", "channel": "talk:a"}))
        .await;
    assert_eq!(
        alice.error_code("reaction_add", on_message.clone()).await,
        423
    );
    moderator
        .ok("unmute", json!({"user": "alice", "channel": "talk:a"}))
        .await;

    moderator
        .ok(
            "mute",
            json!({"user": "alice", "channel": "talk:a", "shadow": true}),
        )
        .await;
    let added = alice.ok("reaction_add", on_message.clone()).await;
    assert_eq!(added["changed"], true);
    let push = alice.push().await;
    assert_eq!(push["push"], "reaction_added");
    assert!(bob.no_push_within(QUIET).await, "a shadow reaction");

    // Alice's own shadow message: only she sees it, and reactions to it.
    let shadow = alice
        .ok("message_send", json!({"channel": "talk:a", "text": "psst"}))
        .await;
    alice.push().await;
    let on_shadow = json!({"message_id": shadow["id"], "emoji": "👀"});
    assert_eq!(bob.error_code("reaction_add", on_shadow.clone()).await, 404);
    alice.ok("reaction_add", on_shadow).await;
    assert_eq!(alice.push().await["push"], "reaction_added");
    assert!(
        bob.no_push_within(QUIET).await,
        "the shadow message's reaction"
    );

    moderator
        .ok("ban", json!({"user": "carol", "channel": "talk:a"}))
        .await;
    let mut carol = server.user("carol").await;
    assert_eq!(carol.error_code("reaction_add", on_message).await, 451);
}
