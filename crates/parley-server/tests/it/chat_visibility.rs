//! Who sees which message, over the real wire, each test on SQLite and on
//! PostgreSQL: hidden messages (moderators only), block lists (never from a
//! blocked user, live or in history) and shadow mutes (the author only).

use crate::common;

use std::time::Duration;

use common::chat::{moderator, send};
use common::{Backend, Client, api_call, on_both_backends, start};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    hidden_messages_are_for_moderators_only,
    a_report_resolved_with_hide_hides_the_message,
    a_blocked_users_messages_never_reach_the_blocker,
    a_blocked_users_typing_never_reaches_the_blocker,
    a_shadow_muted_message_is_seen_by_its_author_only,
);

async fn texts(client: &mut Client, channel: &str) -> Vec<String> {
    let page = client
        .ok(
            "messages",
            json!({"channel": channel, "order": "oldest_first"}),
        )
        .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn history_texts(client: &mut Client, channel: &str) -> Vec<String> {
    let page = client.ok("history", json!({"channel": channel})).await;
    page["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publication| publication["data"]["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn hidden_messages_are_for_moderators_only(backend: Backend) {
    let server = start(backend).await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    let sent = alice
        .ok(
            "message_send",
            json!({"channel": "talk:a", "text": "rude", "meta": {"k": 1}}),
        )
        .await;
    bob.push().await;
    let id = sent["id"].clone();

    assert_eq!(bob.error_code("message_hide", json!({"id": id})).await, 403);
    let hidden = moderator.ok("message_hide", json!({"id": id})).await;
    assert_eq!(hidden["status"], "hidden");
    assert_eq!(hidden["text"], "rude", "moderators see the text");
    let push = bob.push().await;
    assert_eq!(push["push"], "message_updated");
    assert_eq!(push["data"]["id"], id);
    assert_eq!(push["data"]["status"], "hidden");
    assert_eq!(push["data"]["text"], "");
    assert!(push["data"].get("meta").is_none());
    assert_eq!(
        moderator
            .error_code("message_hide", json!({"id": id}))
            .await,
        400,
        "hidden already"
    );

    let page = bob.ok("messages", json!({"channel": "talk:a"})).await;
    assert_eq!(page["messages"][0]["status"], "hidden");
    assert_eq!(page["messages"][0]["text"], "");
    let page = moderator.ok("messages", json!({"channel": "talk:a"})).await;
    assert_eq!(page["messages"][0]["status"], "hidden");
    assert_eq!(page["messages"][0]["text"], "rude");
    assert_eq!(page["messages"][0]["meta"], json!({"k": 1}));
    // The stream keeps no trace of the text for anyone.
    assert_eq!(history_texts(&mut bob, "talk:a").await, vec!["", ""]);
    let (_, http) = api_call(
        &server.url("/api/v1/channels/talk:a/messages"),
        Method::GET,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(http["messages"][0]["text"], "");

    let shown = moderator.ok("message_unhide", json!({"id": id})).await;
    assert!(shown.get("status").is_none());
    let push = bob.push().await;
    assert_eq!(push["data"]["text"], "rude");
    assert!(push["data"].get("status").is_none());
    assert_eq!(texts(&mut bob, "talk:a").await, vec!["rude"]);

    // Over HTTP with the API key.
    let (status, body) = server
        .api(
            Method::POST,
            &format!("/api/v1/messages/{}/hide", id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!((status, &body["status"]), (200, &json!("hidden")));
    assert_eq!(bob.push().await["data"]["status"], "hidden");
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/api/v1/messages/{}/unhide", id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(bob.push().await["data"]["text"], "rude");
    let (status, _) = server
        .api(Method::POST, "/api/v1/messages/424242/hide", None)
        .await;
    assert_eq!(status, 404);

    // A moderator deletes anyone's message.
    let deleted = moderator.ok("message_delete", json!({"id": id})).await;
    assert!(deleted["deleted_at"].as_u64().is_some());
    assert_eq!(bob.push().await["push"], "message_deleted");
}

async fn a_report_resolved_with_hide_hides_the_message(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    let sent = send(&mut alice, "talk:a", "spam spam").await;
    bob.push().await;
    let report = bob
        .ok(
            "report",
            json!({"message_id": sent["id"], "reason": "spam"}),
        )
        .await;
    let (status, resolved) = server
        .api(
            Method::POST,
            &format!("/api/v1/reports/{}/resolve", report["id"].as_str().unwrap()),
            Some(json!({"action": "hide"})),
        )
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["action"], "hide");
    let push = bob.push().await;
    assert_eq!(push["data"]["status"], "hidden");
}

async fn a_blocked_users_messages_never_reach_the_blocker(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;
    let first = bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    carol.ok("subscribe", json!({"channel": "talk:a"})).await;
    send(&mut alice, "talk:a", "before").await;
    bob.push().await;
    carol.push().await;

    assert_eq!(
        bob.ok("block", json!({"user": "alice"})).await,
        json!({"blocks": ["alice"]})
    );
    assert_eq!(
        bob.ok("block", json!({"user": "alice"})).await,
        json!({"blocks": ["alice"]}),
        "blocking twice is harmless"
    );
    assert_eq!(bob.error_code("block", json!({"user": "bob"})).await, 400);
    assert_eq!(
        bob.ok("blocks", json!({})).await,
        json!({"blocks": ["alice"]})
    );

    send(&mut alice, "talk:a", "blocked").await;
    assert_eq!(carol.push().await["data"]["text"], "blocked");
    send(&mut carol, "talk:a", "from carol").await;
    assert_eq!(
        bob.push().await["data"]["text"],
        "from carol",
        "alice's message never reached bob"
    );
    carol.push().await;

    // History, messages and recovery leave alice out too, on every
    // connection of bob's, the new ones included.
    assert_eq!(texts(&mut bob, "talk:a").await, vec!["from carol"]);
    assert_eq!(history_texts(&mut bob, "talk:a").await, vec!["from carol"]);
    assert_eq!(
        texts(&mut carol, "talk:a").await,
        vec!["before", "blocked", "from carol"]
    );
    let mut bob_again = server.user("bob").await;
    let since = json!({"offset": first["offset"], "epoch": first["epoch"]});
    let recovered = bob_again
        .ok("subscribe", json!({"channel": "talk:a", "since": since}))
        .await;
    assert_eq!(recovered["recovered"], true);
    assert_eq!(bob_again.push().await["data"]["text"], "from carol");
    send(&mut alice, "talk:a", "still blocked").await;
    assert!(bob_again.no_push_within(Duration::from_millis(200)).await);
    assert!(bob.no_push_within(Duration::from_millis(50)).await);
    let (_, http) = api_call(
        &server.url("/api/v1/channels/talk:a/messages"),
        Method::GET,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(http["messages"].as_array().unwrap().len(), 1, "{http}");

    assert_eq!(
        bob.ok("unblock", json!({"user": "alice"})).await,
        json!({"blocks": []})
    );
    send(&mut alice, "talk:a", "friends again").await;
    assert_eq!(bob.push().await["data"]["text"], "friends again");
}

async fn typing_users(client: &mut Client) -> Vec<String> {
    loop {
        let push = client.push().await;
        if push["push"] == "typing" {
            return push["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|typer| typer["user"].as_str().unwrap().to_owned())
                .collect();
        }
    }
}

async fn a_blocked_users_typing_never_reaches_the_blocker(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;
    bob.ok("block", json!({"user": "alice"})).await;
    for client in [&mut alice, &mut bob, &mut carol] {
        client.ok("subscribe", json!({"channel": "room:t"})).await;
    }
    alice
        .ok("typing", json!({"channel": "room:t", "active": true}))
        .await;
    assert_eq!(typing_users(&mut carol).await, vec!["alice"]);
    assert!(typing_users(&mut bob).await.is_empty());
    carol
        .ok("typing", json!({"channel": "room:t", "active": true}))
        .await;
    assert_eq!(typing_users(&mut carol).await, vec!["alice", "carol"]);
    assert_eq!(typing_users(&mut bob).await, vec!["carol"]);
}

async fn a_shadow_muted_message_is_seen_by_its_author_only(backend: Backend) {
    let server = start(backend).await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut alice_tab = server.user("alice").await;
    let mut bob = server.user("bob").await;
    for client in [&mut alice, &mut alice_tab, &mut bob] {
        client.ok("subscribe", json!({"channel": "talk:a"})).await;
    }
    let mute = moderator
        .ok(
            "mute",
            json!({"user": "alice", "channel": "talk:a", "shadow": true}),
        )
        .await;
    assert_eq!(mute["kind"], "shadow_mute");
    assert_eq!(
        moderator
            .error_code("ban", json!({"user": "alice", "shadow": true}))
            .await,
        400
    );

    let ack = send(&mut alice, "talk:a", "can anyone hear me").await;
    assert_eq!(ack["offset"], 1);
    assert_eq!(alice.push().await["data"]["id"], ack["id"]);
    assert_eq!(alice_tab.push().await["data"]["id"], ack["id"]);
    send(&mut moderator, "talk:a", "visible").await;
    let push = bob.push().await;
    assert_eq!(push["data"]["text"], "visible", "bob never got offset 1");
    assert_eq!(push["offset"], 2);
    alice.push().await;
    alice_tab.push().await;

    // The author's edit stays the author's too.
    alice
        .ok("message_edit", json!({"id": ack["id"], "text": "hello?"}))
        .await;
    assert_eq!(alice.push().await["push"], "message_updated");
    assert!(bob.no_push_within(Duration::from_millis(200)).await);

    assert_eq!(texts(&mut alice, "talk:a").await, vec!["hello?", "visible"]);
    assert_eq!(texts(&mut bob, "talk:a").await, vec!["visible"]);
    assert_eq!(history_texts(&mut bob, "talk:a").await, vec!["visible"]);
    let mut bob_again = server.user("bob").await;
    let since = json!({"offset": 0, "epoch": push["epoch"]});
    let recovered = bob_again
        .ok("subscribe", json!({"channel": "talk:a", "since": since}))
        .await;
    assert_eq!(
        recovered["recovered"], true,
        "the skipped offsets still count"
    );
    assert_eq!(recovered["offset"], 3);
    assert_eq!(bob_again.push().await["data"]["text"], "visible");
    assert!(bob_again.no_push_within(Duration::from_millis(200)).await);
    let (_, all) = server
        .api(Method::GET, "/api/v1/channels/talk:a/messages", None)
        .await;
    assert_eq!(
        all["messages"].as_array().unwrap().len(),
        2,
        "the server API sees all"
    );

    let lifted = moderator
        .ok(
            "unmute",
            json!({"user": "alice", "channel": "talk:a", "shadow": true}),
        )
        .await;
    assert_eq!(lifted["lifted"], true);
    send(&mut alice, "talk:a", "heard").await;
    assert_eq!(bob.push().await["data"]["text"], "heard");
}
