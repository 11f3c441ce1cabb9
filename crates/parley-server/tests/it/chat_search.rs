//! Full-text search over the real wire, each test on SQLite and on
//! PostgreSQL: in a channel, across the user's rooms, never beyond them,
//! never deleted messages, paginated.

use crate::common;

use common::chat::start_with_rooms as start;
use common::{Backend, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(search_in_rooms_and_channels);

async fn search_in_rooms_and_channels(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut carol = server.user("carol").await;
    let ours = alice
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": "team", "members": ["bob"]}),
        )
        .await["room"]["channel"]
        .as_str()
        .unwrap()
        .to_owned();
    let hers = carol
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": "team", "members": []}),
        )
        .await["room"]["channel"]
        .as_str()
        .unwrap()
        .to_owned();
    for text in [
        "Green apples are sour",
        "I like APPLES and pears",
        "nothing here",
    ] {
        alice
            .ok("message_send", json!({"channel": ours, "text": text}))
            .await;
    }
    carol
        .ok(
            "message_send",
            json!({"channel": hers, "text": "secret apples"}),
        )
        .await;
    let deleted = alice
        .ok(
            "message_send",
            json!({"channel": ours, "text": "rotten apples"}),
        )
        .await;
    alice
        .ok("message_delete", json!({"id": deleted["id"]}))
        .await;
    alice
        .ok(
            "message_send",
            json!({"channel": "talk:market", "text": "apples for sale"}),
        )
        .await;

    // Across alice's rooms: hers only, newest first, deleted ones never.
    let found = alice.ok("search", json!({"query": "apples"})).await;
    let texts: Vec<&str> = found["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["I like APPLES and pears", "Green apples are sour"]);
    assert_eq!(found["has_more"], false);

    // Every word must match.
    let found = alice.ok("search", json!({"query": "green APPLES!"})).await;
    assert_eq!(found["messages"].as_array().unwrap().len(), 1);

    // Pages.
    let first = alice
        .ok("search", json!({"query": "apples", "limit": 1}))
        .await;
    assert_eq!(first["has_more"], true);
    let second = alice
        .ok(
            "search",
            json!({"query": "apples", "limit": 1, "before": first["messages"][0]["id"]}),
        )
        .await;
    assert_eq!(second["messages"][0]["text"], "Green apples are sour");
    assert_eq!(second["has_more"], false);

    // One channel: a readable channel without rooms, or a room of hers.
    let market = alice
        .ok(
            "search",
            json!({"query": "apples", "channel": "talk:market"}),
        )
        .await;
    assert_eq!(market["messages"][0]["text"], "apples for sale");
    assert_eq!(
        alice
            .error_code("search", json!({"query": "apples", "channel": hers}))
            .await,
        403
    );
    let mut bob = server.user("bob").await;
    let found = bob.ok("search", json!({"query": "secret"})).await;
    assert_eq!(found["messages"], json!([]));
    assert_eq!(
        bob.error_code("search", json!({"query": "  !! "})).await,
        400
    );
    // Query syntax is plain words on both backends.
    let found = alice
        .ok("search", json!({"query": "apples OR \"NEAR(x\" *"}))
        .await;
    assert!(found["messages"].is_array());

    // Edits are searched as they are now.
    let edited = &alice.ok("search", json!({"query": "pears"})).await["messages"][0];
    alice
        .ok(
            "message_edit",
            json!({"id": edited["id"], "text": "I like plums"}),
        )
        .await;
    assert_eq!(
        alice.ok("search", json!({"query": "pears"})).await["messages"],
        json!([])
    );
    assert_eq!(
        alice.ok("search", json!({"query": "plums"})).await["messages"][0]["id"],
        edited["id"]
    );

    // The server API, as a user or on one channel.
    let (status, found) = server
        .api(Method::GET, "/api/v1/search?query=apples&user=carol", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["messages"][0]["text"], "secret apples");
    assert_eq!(found["messages"].as_array().unwrap().len(), 1);
    let (status, _) = server
        .api(
            Method::GET,
            &format!("/api/v1/search?query=apples&user=bob&channel={hers}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, found) = server
        .api(
            Method::GET,
            "/api/v1/search?query=sale&channel=talk:market",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["messages"].as_array().unwrap().len(), 1);
    let (status, _) = server
        .api(Method::GET, "/api/v1/search?query=x", None)
        .await;
    assert_eq!(status, 400);
    server.stop().await;
}
