//! Pins and threads through the HTTP API's routes that act for a user,
//! over the real wire: who may pin (the native rules), the live
//! `message_pinned` and `message_unpinned` pushes, and thread pages. Each
//! scenario runs on SQLite and on PostgreSQL.

use crate::common;

use common::chat::{assert_error, room, segment, start_with_boards as start};
use common::{Backend, Client, SECRET, api_call, on_both_backends, push_named, token_with};
use reqwest::Method;
use serde_json::json;

on_both_backends!(pins_for_a_user, pins_by_members, thread_pages);

async fn send(client: &mut Client, channel: &str, text: &str, reply_to: Option<&str>) -> String {
    let sent = client
        .ok(
            "message_send",
            json!({"channel": channel, "text": text, "reply_to": reply_to}),
        )
        .await;
    sent["id"].as_str().unwrap().to_owned()
}

async fn pins_for_a_user(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let room = room(&mut alice, "team", &["bob"]).await;
    bob.ok("subscribe", json!({"channel": room})).await;
    let id = send(&mut bob, &room, "pin me", None).await;
    let pin_path = |user: &str| format!("/api/v1/messages/{id}/pin?user={user}");
    let pins_path = format!("/api/v1/channels/{}/pins", segment(&room));

    // A plain member may not pin, for a backend either; the room's owner
    // may, and the room's subscribers get message_pinned.
    assert_error(server.api(Method::POST, &pin_path("bob"), None).await, 403);
    let (status, pinned) = server.api(Method::POST, &pin_path("alice"), None).await;
    assert_eq!(status, 200, "{pinned}");
    assert_eq!(pinned["pinned"], true);
    assert_eq!(pinned["by"], "alice");
    assert_eq!(pinned["message"]["id"], id.as_str());
    let push = push_named(&mut bob, "message_pinned").await;
    assert_eq!(push["data"]["message"]["id"], id.as_str());
    assert_eq!(push["data"]["by"], "alice");
    assert!(push["offset"].is_u64());

    // The list: for a member, for the backend, and what the native
    // `pins` answers.
    let (status, as_bob) = server
        .api(Method::GET, &format!("{pins_path}?user=bob"), None)
        .await;
    assert_eq!(status, 200, "{as_bob}");
    assert_eq!(as_bob["pins"].as_array().unwrap().len(), 1);
    assert_eq!(as_bob["pins"][0]["message"]["text"], "pin me");
    assert_eq!(as_bob, bob.ok("pins", json!({"channel": room})).await);
    let (status, as_system) = server.api(Method::GET, &pins_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(as_system["pins"].as_array().unwrap().len(), 1);
    let (status, with_token) = api_call(
        &server.url(&pins_path),
        Method::GET,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(with_token, as_bob);
    assert_error(
        server
            .api(Method::GET, &format!("{pins_path}?user=carol"), None)
            .await,
        403,
    );

    // Unpinning: message_unpinned, and the list is empty.
    let (status, unpinned) = server.api(Method::DELETE, &pin_path("alice"), None).await;
    assert_eq!(status, 200, "{unpinned}");
    assert_eq!(unpinned["pinned"], false);
    let push = push_named(&mut bob, "message_unpinned").await;
    assert_eq!(push["data"]["pinned"], false);
    assert_eq!(
        server.api(Method::GET, &pins_path, None).await.1["pins"],
        json!([])
    );

    // The backend pins as `system`; a moderator's token pins as its user.
    let system_path = format!("/api/v1/messages/{id}/pin");
    let (status, by_system) = server.api(Method::POST, &system_path, None).await;
    assert_eq!(status, 200);
    assert_eq!(by_system["by"], "system");
    push_named(&mut bob, "message_pinned").await;
    let moderator = token_with(SECRET, "mod", |claims| {
        claims.roles = vec!["moderator".to_owned()]
    });
    let (status, by_moderator) = api_call(
        &server.url(&system_path),
        Method::DELETE,
        Some(&moderator),
        None,
    )
    .await;
    // The moderator is no member of the room: refused, as natively.
    assert_eq!(status, 403, "{by_moderator}");
    let (status, by_bob) = api_call(
        &server.url(&system_path),
        Method::DELETE,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(status, 403, "{by_bob}");

    // Unknown and malformed messages, and an empty user.
    assert_error(
        server
            .api(Method::POST, "/api/v1/messages/999999/pin", None)
            .await,
        404,
    );
    assert_error(
        server
            .api(Method::POST, "/api/v1/messages/x/pin", None)
            .await,
        400,
    );
    assert_error(server.api(Method::POST, &pin_path(""), None).await, 400);
    server.stop().await;
}

async fn pins_by_members(backend: Backend) {
    let server = start(backend).await;
    let mut watcher = server.user("watcher").await;
    watcher.ok("subscribe", json!({"channel": "board:b"})).await;
    let mut alice = server.user("alice").await;
    let id = send(&mut alice, "board:b", "notice", None).await;
    let (status, pinned) = server
        .api(
            Method::POST,
            &format!("/api/v1/messages/{id}/pin?user=carol"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{pinned}");
    assert_eq!(pinned["by"], "carol");
    assert_eq!(
        push_named(&mut watcher, "message_pinned").await["data"]["by"],
        "carol"
    );
    // Where only moderators pin, the same user is refused.
    let other = send(&mut alice, "talk:t", "elsewhere", None).await;
    assert_error(
        server
            .api(
                Method::POST,
                &format!("/api/v1/messages/{other}/pin?user=carol"),
                None,
            )
            .await,
        403,
    );
    server.stop().await;
}

async fn thread_pages(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let parent = send(&mut alice, "talk:t", "question", None).await;
    let mut replies = Vec::new();
    for text in ["a", "b", "c"] {
        replies.push(send(&mut alice, "talk:t", text, Some(&parent)).await);
    }
    let path = format!("/api/v1/messages/{parent}/thread");

    // The newest page, then the one before it; the native `thread`
    // answers the same.
    let (status, page) = server
        .api(Method::GET, &format!("{path}?limit=2"), None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["parent"]["id"], parent.as_str());
    assert_eq!(page["parent"]["reply_count"], 3);
    let ids: Vec<&str> = page["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| reply["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [replies[1].as_str(), replies[2].as_str()]);
    assert_eq!(page["has_more"], true);
    let native = alice
        .ok("thread", json!({"message_id": parent, "limit": 2}))
        .await;
    assert_eq!(native, page);
    let (status, older) = server
        .api(
            Method::GET,
            &format!("{path}?limit=2&before={}&user=bob", replies[1]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{older}");
    assert_eq!(older["replies"].as_array().unwrap().len(), 1);
    assert_eq!(older["replies"][0]["id"], replies[0].as_str());
    assert_eq!(older["has_more"], false);
    let (status, with_token) = api_call(
        &server.url(&path),
        Method::GET,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(with_token["replies"].as_array().unwrap().len(), 3);

    // A room's thread is its members'.
    let room = room(&mut alice, "team", &["bob"]).await;
    let room_parent = send(&mut alice, &room, "inside", None).await;
    let room_path = format!("/api/v1/messages/{room_parent}/thread");
    let (status, _) = server
        .api(Method::GET, &format!("{room_path}?user=bob"), None)
        .await;
    assert_eq!(status, 200);
    assert_error(
        server
            .api(Method::GET, &format!("{room_path}?user=carol"), None)
            .await,
        403,
    );

    // Unknown and malformed ids, a bad limit.
    assert_error(
        server
            .api(Method::GET, "/api/v1/messages/999999/thread", None)
            .await,
        404,
    );
    assert_error(
        server
            .api(Method::GET, "/api/v1/messages/x/thread", None)
            .await,
        400,
    );
    assert_error(
        server
            .api(Method::GET, &format!("{path}?limit=0"), None)
            .await,
        400,
    );
    assert_error(
        server
            .api(Method::GET, &format!("{path}?limit=many"), None)
            .await,
        400,
    );
    server.stop().await;
}
