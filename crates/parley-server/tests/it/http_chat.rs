//! The chat routes of the HTTP API that act for a user, over the real
//! wire: editing a message and its edit trail, read marks (checked
//! against the native `unread`), block lists and filing reports. Each
//! scenario runs on SQLite and on PostgreSQL.

use crate::common;

use common::chat::{assert_error, room, segment, start_with_receipts as start};
use common::{
    Backend, Client, SECRET, TestServer, api_call, on_both_backends, push_named, token_with,
};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    edits_for_the_author,
    read_marks_match_native_unread,
    block_lists_for_a_user,
    reports_for_a_user,
);

/// A call with a user's token instead of the API key.
async fn as_user(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    api_call(&server.url(path), method, Some(token), body).await
}

async fn send(client: &mut Client, channel: &str, text: &str) -> String {
    let sent = client
        .ok("message_send", json!({"channel": channel, "text": text}))
        .await;
    sent["id"].as_str().unwrap().to_owned()
}

async fn edits_for_the_author(backend: Backend) {
    let server = start(backend).await;
    let mut watcher = server.user("watcher").await;
    watcher.ok("subscribe", json!({"channel": "talk:e"})).await;
    let mut alice = server.user("alice").await;
    let id = send(&mut alice, "talk:e", "helo").await;
    push_named(&mut watcher, "message_created").await;
    let path = format!("/api/v1/messages/{id}");

    // A backend edits for the author; subscribers get message_updated.
    let (status, edited) = server
        .api(
            Method::PATCH,
            &path,
            Some(json!({"user": "alice", "text": "hello"})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["text"], "hello");
    assert!(edited["edited_at"].is_u64());
    let push = push_named(&mut watcher, "message_updated").await;
    assert_eq!(push["data"]["id"], id.as_str());
    assert_eq!(push["data"]["text"], "hello");

    // The author edits with their own token too.
    let alice_token = server.token("alice");
    let (status, edited) = as_user(
        &server,
        &alice_token,
        Method::PATCH,
        &path,
        Some(json!({"text": "hello, all"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        push_named(&mut watcher, "message_updated").await["data"]["text"],
        "hello, all"
    );

    // The trail: a backend reads it, as does a moderator's token.
    let trail_path = format!("/api/v1/messages/{id}/edits");
    let (status, trail) = server.api(Method::GET, &trail_path, None).await;
    assert_eq!(status, 200, "{trail}");
    let revisions = trail["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[0]["text"], "helo");
    assert_eq!(revisions[1]["text"], "hello");
    let moderator = token_with(SECRET, "mod", |claims| {
        claims.roles = vec!["moderator".to_owned()]
    });
    let (status, by_moderator) = as_user(&server, &moderator, Method::GET, &trail_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(by_moderator, trail);
    assert_error(
        as_user(&server, &alice_token, Method::GET, &trail_path, None).await,
        403,
    );

    // Only the author edits: another user, or `system`, is refused.
    assert_error(
        server
            .api(
                Method::PATCH,
                &path,
                Some(json!({"user": "bob", "text": "mine"})),
            )
            .await,
        403,
    );
    assert_error(
        server
            .api(Method::PATCH, &path, Some(json!({"text": "system's"})))
            .await,
        403,
    );
    let bob_token = server.token("bob");
    assert_error(
        as_user(
            &server,
            &bob_token,
            Method::PATCH,
            &path,
            Some(json!({"text": "mine"})),
        )
        .await,
        403,
    );
    // A token acts as its own user only.
    assert_error(
        as_user(
            &server,
            &bob_token,
            Method::PATCH,
            &path,
            Some(json!({"user": "alice", "text": "mine"})),
        )
        .await,
        400,
    );
    // Unknown and malformed messages, bad bodies, the text limits.
    assert_error(
        server
            .api(
                Method::PATCH,
                "/api/v1/messages/999999",
                Some(json!({"user": "alice", "text": "x"})),
            )
            .await,
        404,
    );
    assert_error(
        server
            .api(
                Method::PATCH,
                "/api/v1/messages/abc",
                Some(json!({"user": "alice", "text": "x"})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(Method::PATCH, &path, Some(json!({"user": "alice"})))
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::PATCH,
                &path,
                Some(json!({"user": "alice", "text": "x", "pinned": true})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::PATCH,
                &path,
                Some(json!({"user": "alice", "text": "x".repeat(51)})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(Method::GET, "/api/v1/messages/999999/edits", None)
            .await,
        404,
    );
    // A muted author may not edit, as natively.
    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/moderation/mute",
            Some(json!({"user": "alice", "channel": "talk:e"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_error(
        server
            .api(
                Method::PATCH,
                &path,
                Some(json!({"user": "alice", "text": "muted"})),
            )
            .await,
        423,
    );
    server.stop().await;
}

async fn read_marks_match_native_unread(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let quiet = room(&mut alice, "quiet", &["bob"]).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(send(&mut alice, &quiet, text).await);
    }
    let mut bob = server.user("bob").await;
    let read_path = format!("/api/v1/channels/{}/read", segment(&quiet));

    // Forward for bob: what HTTP and the native `unread` report agree.
    let (status, marked) = server
        .api(
            Method::POST,
            &read_path,
            Some(json!({"user": "bob", "message_id": ids[1]})),
        )
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["channel"], quiet.as_str());
    assert_eq!(marked["user"], "bob");
    assert_eq!(marked["unread"], 1);
    assert_eq!(marked["moved"], true);
    let native = bob.ok("unread", json!({})).await;
    let (status, counts) = server
        .api(Method::GET, "/api/v1/users/bob/unread", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(counts, native);
    assert_eq!(counts["unread"], 1);
    assert_eq!(counts["channels"][0]["channel"], quiet.as_str());

    // Back with `unread: true`; never backwards without it.
    let (status, back) = server
        .api(
            Method::POST,
            &read_path,
            Some(json!({"user": "bob", "message_id": ids[0], "unread": true})),
        )
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["unread"], 3);
    assert_eq!(back["moved"], true);
    let (_, stale) = server
        .api(
            Method::POST,
            &read_path,
            Some(json!({"user": "bob", "message_id": ids[0], "unread": false})),
        )
        .await;
    assert_eq!(stale["moved"], true);
    assert_eq!(stale["unread"], 2);
    let native = bob.ok("unread", json!({})).await;
    let (_, counts) = server
        .api(Method::GET, "/api/v1/users/bob/unread", None)
        .await;
    assert_eq!(counts, native);
    assert_eq!(counts["unread"], 2);

    // With bob's own token; then nothing is unread, for HTTP and natively.
    let (status, marked) = as_user(
        &server,
        &server.token("bob"),
        Method::POST,
        &read_path,
        Some(json!({"message_id": ids[2]})),
    )
    .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["unread"], 0);
    let native = bob.ok("unread", json!({})).await;
    assert_eq!(native["unread"], 0);
    let (_, counts) = server
        .api(Method::GET, "/api/v1/users/bob/unread", None)
        .await;
    assert_eq!(counts, native);

    // In a room that sees receipts, a mark over HTTP is a live push.
    let team = room(&mut alice, "team", &["bob"]).await;
    alice.ok("subscribe", json!({"channel": team})).await;
    let id = send(&mut alice, &team, "seen?").await;
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/api/v1/channels/{}/read", segment(&team)),
            Some(json!({"user": "bob", "message_id": id})),
        )
        .await;
    assert_eq!(status, 200);
    let push = push_named(&mut alice, "read_updated").await;
    assert_eq!(push["data"]["user"], "bob");
    assert_eq!(push["data"]["unread"], 0);

    // Refusals: not a member, no user, a bad id, a message of another
    // channel, a bad body.
    assert_error(
        server
            .api(
                Method::POST,
                &read_path,
                Some(json!({"user": "carol", "message_id": ids[0]})),
            )
            .await,
        403,
    );
    assert_error(
        server
            .api(
                Method::POST,
                &read_path,
                Some(json!({"message_id": ids[0]})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::POST,
                &read_path,
                Some(json!({"user": "bob", "message_id": "x"})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::POST,
                &read_path,
                Some(json!({"user": "bob", "message_id": id})),
            )
            .await,
        404,
    );
    assert_error(
        server
            .api(Method::POST, &read_path, Some(json!({"user": "bob"})))
            .await,
        400,
    );
    server.stop().await;
}

async fn block_lists_for_a_user(backend: Backend) {
    let server = start(backend).await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:b"})).await;
    let mut alice = server.user("alice").await;
    let mut carol = server.user("carol").await;

    let (status, blocks) = server
        .api(Method::POST, "/api/v1/users/bob/blocks/alice", None)
        .await;
    assert_eq!(status, 200, "{blocks}");
    assert_eq!(blocks, json!({"blocks": ["alice"]}));
    let (status, listed) = server
        .api(Method::GET, "/api/v1/users/bob/blocks", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed, blocks);
    assert_eq!(bob.ok("blocks", json!({})).await, blocks);

    // Bob's live connection no longer gets alice's messages: carol's,
    // sent after, is the next one he gets.
    send(&mut alice, "talk:b", "from alice").await;
    send(&mut carol, "talk:b", "from carol").await;
    let push = push_named(&mut bob, "message_created").await;
    assert_eq!(push["data"]["author"], "carol");

    let (status, blocks) = server
        .api(Method::DELETE, "/api/v1/users/bob/blocks/alice", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(blocks, json!({"blocks": []}));
    send(&mut alice, "talk:b", "again").await;
    let push = push_named(&mut bob, "message_created").await;
    assert_eq!(push["data"]["author"], "alice");

    // Refusals: oneself, a user's token (the route is the backend's).
    assert_error(
        server
            .api(Method::POST, "/api/v1/users/bob/blocks/bob", None)
            .await,
        400,
    );
    assert_error(
        as_user(
            &server,
            &server.token("bob"),
            Method::GET,
            "/api/v1/users/bob/blocks",
            None,
        )
        .await,
        401,
    );
    server.stop().await;
}

async fn reports_for_a_user(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let id = send(&mut alice, "talk:r", "rude").await;

    let (status, report) = server
        .api(
            Method::POST,
            "/api/v1/reports",
            Some(json!({"user": "bob", "message_id": id, "reason": "insulting"})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["reporter"], "bob");
    assert_eq!(report["message_id"], id.as_str());
    assert_eq!(report["channel"], "talk:r");
    assert_eq!(report["status"], "open");
    // Reporting again answers the first report.
    let (_, again) = server
        .api(
            Method::POST,
            "/api/v1/reports",
            Some(json!({"user": "bob", "message_id": id, "reason": "again"})),
        )
        .await;
    assert_eq!(again["id"], report["id"]);
    // A user's token files as that user.
    let (status, by_carol) = as_user(
        &server,
        &server.token("carol"),
        Method::POST,
        "/api/v1/reports",
        Some(json!({"message_id": id, "reason": "spam"})),
    )
    .await;
    assert_eq!(status, 200, "{by_carol}");
    assert_eq!(by_carol["reporter"], "carol");
    let (status, queue) = server
        .api(Method::GET, "/api/v1/reports?status=open", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(queue["reports"].as_array().unwrap().len(), 2);

    // Refusals: a room the reporter is not in, no user, an unknown or
    // malformed message, an empty reason, a bad body.
    let quiet = room(&mut alice, "quiet", &["bob"]).await;
    let secret = send(&mut alice, &quiet, "members only").await;
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"user": "carol", "message_id": secret, "reason": "x"})),
            )
            .await,
        403,
    );
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"message_id": id, "reason": "x"})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"user": "bob", "message_id": "999999", "reason": "x"})),
            )
            .await,
        404,
    );
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"user": "bob", "message_id": "nope", "reason": "x"})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"user": "bob", "message_id": id, "reason": " "})),
            )
            .await,
        400,
    );
    assert_error(
        server
            .api(
                Method::POST,
                "/api/v1/reports",
                Some(json!({"user": "bob", "message_id": id})),
            )
            .await,
        400,
    );
    server.stop().await;
}
