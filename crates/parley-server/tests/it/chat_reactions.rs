//! Reactions to messages and to channels over the real wire, each test on
//! SQLite and on PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, Client, TestServer, api_call, on_both_backends, start};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    message_reactions_are_unique_counted_and_pushed,
    reaction_events_are_recovered,
    channel_reactions_are_aggregated_and_pushed,
    reactions_over_http,
    bad_reactions_are_refused,
);

const QUIET: Duration = Duration::from_millis(300);

async fn react(client: &mut Client, method: &str, message: &Value, emoji: &str) -> Value {
    client
        .ok(method, json!({"message_id": message["id"], "emoji": emoji}))
        .await
}

async fn reactions_of(client: &mut Client, channel: &str, index: usize) -> Value {
    let page = client
        .ok(
            "messages",
            json!({"channel": channel, "order": "oldest_first"}),
        )
        .await;
    page["messages"][index]["reactions"].clone()
}

async fn message_reactions_are_unique_counted_and_pushed(backend: Backend) {
    let server = start(backend).await;
    let mut reader = server.user("reader").await;
    let subscribed = reader
        .ok("subscribe", json!({"channel": "talk:room"}))
        .await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let message = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "hi"}),
        )
        .await;
    reader.push().await;
    assert_eq!(reactions_of(&mut alice, "talk:room", 0).await, json!({}));

    let added = react(&mut alice, "reaction_add", &message, "👍").await;
    assert_eq!(added["count"], 1);
    assert_eq!(added["me"], true);
    assert_eq!(added["changed"], true);
    assert_eq!(added["message_id"], message["id"]);
    let push = reader.push().await;
    assert_eq!(push["push"], "reaction_added");
    assert_eq!(push["channel"], "talk:room");
    assert_eq!(
        push["data"],
        json!({"channel": "talk:room", "message_id": message["id"], "user": "alice", "emoji": "👍", "count": 1})
    );
    assert_eq!(push["offset"], 2);
    assert_eq!(push["epoch"], subscribed["epoch"]);

    // Adding the same reaction again counts once and pushes nothing.
    let again = react(&mut alice, "reaction_add", &message, "👍").await;
    assert_eq!(
        (again["count"].as_u64(), again["changed"].as_bool()),
        (Some(1), Some(false))
    );
    assert!(reader.no_push_within(QUIET).await);

    assert_eq!(
        react(&mut bob, "reaction_add", &message, "👍").await["count"],
        2
    );
    assert_eq!(reader.push().await["data"]["count"], 2);
    assert_eq!(
        react(&mut bob, "reaction_add", &message, "❤️").await["count"],
        1
    );
    assert_eq!(reader.push().await["data"]["emoji"], "❤️");

    assert_eq!(
        reactions_of(&mut alice, "talk:room", 0).await,
        json!({"👍": {"count": 2, "me": true}, "❤️": {"count": 1, "me": false}})
    );
    assert_eq!(
        reactions_of(&mut bob, "talk:room", 0).await,
        json!({"👍": {"count": 2, "me": true}, "❤️": {"count": 1, "me": true}})
    );
    assert_eq!(
        reactions_of(&mut reader, "talk:room", 0).await,
        json!({"👍": {"count": 2, "me": false}, "❤️": {"count": 1, "me": false}})
    );

    let removed = react(&mut alice, "reaction_remove", &message, "👍").await;
    assert_eq!(
        (removed["count"].as_u64(), removed["me"].as_bool()),
        (Some(1), Some(false))
    );
    let push = reader.push().await;
    assert_eq!(push["push"], "reaction_removed");
    assert_eq!(push["data"]["count"], 1);
    assert_eq!(push["data"]["user"], "alice");
    let twice = react(&mut alice, "reaction_remove", &message, "👍").await;
    assert_eq!(
        (twice["count"].as_u64(), twice["changed"].as_bool()),
        (Some(1), Some(false))
    );
    assert!(reader.no_push_within(QUIET).await);
    assert_eq!(
        reactions_of(&mut alice, "talk:room", 0).await,
        json!({"👍": {"count": 1, "me": false}, "❤️": {"count": 1, "me": false}})
    );

    // History of the stream holds the reaction events in order.
    let history = reader.ok("history", json!({"channel": "talk:room"})).await;
    let kinds: Vec<&str> = history["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message_created",
            "reaction_added",
            "reaction_added",
            "reaction_added",
            "reaction_removed"
        ]
    );

    // A deleted message takes its reactions with it and takes no more.
    alice
        .ok("message_delete", json!({"id": message["id"]}))
        .await;
    assert_eq!(reactions_of(&mut alice, "talk:room", 0).await, json!({}));
    let reply = alice
        .call(
            "reaction_add",
            json!({"message_id": message["id"], "emoji": "👍"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 404, "{reply}");
    server.stop().await;
}

async fn reaction_events_are_recovered(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let message = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "hi"}),
        )
        .await;
    let mut reader = server.user("reader").await;
    let subscribed = reader
        .ok("subscribe", json!({"channel": "talk:room"}))
        .await;
    drop(reader);

    let mut bob = server.user("bob").await;
    react(&mut alice, "reaction_add", &message, "👍").await;
    react(&mut bob, "reaction_add", &message, "👍").await;
    react(&mut alice, "reaction_remove", &message, "👍").await;
    bob.ok(
        "reaction_add",
        json!({"channel": "talk:room", "emoji": "🔥"}),
    )
    .await;

    let mut reader = server.user("reader").await;
    let resumed = reader
        .ok(
            "subscribe",
            json!({"channel": "talk:room", "since": {"offset": subscribed["offset"], "epoch": subscribed["epoch"]}}),
        )
        .await;
    assert_eq!(resumed["recovered"], true);
    let mut replayed = Vec::new();
    for _ in 0..4 {
        let push = reader.push().await;
        replayed.push((
            push["push"].as_str().unwrap().to_owned(),
            push["offset"].as_u64().unwrap(),
            push["data"]["count"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        replayed,
        [
            ("reaction_added".to_owned(), 2, 1),
            ("reaction_added".to_owned(), 3, 2),
            ("reaction_removed".to_owned(), 4, 1),
            ("reaction_added".to_owned(), 5, 1),
        ]
    );
    assert!(reader.no_push_within(QUIET).await);
    server.stop().await;
}

async fn channel_reactions_are_aggregated_and_pushed(backend: Backend) {
    let server = start(backend).await;
    let mut reader = server.user("reader").await;
    reader
        .ok("subscribe", json!({"channel": "talk:page-12"}))
        .await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let page = json!({"channel": "talk:page-12", "emoji": "🔥"});

    let added = alice.ok("reaction_add", page.clone()).await;
    assert_eq!(
        (added["count"].as_u64(), added["changed"].as_bool()),
        (Some(1), Some(true))
    );
    assert!(added.get("message_id").is_none());
    let push = reader.push().await;
    assert_eq!(push["push"], "reaction_added");
    assert_eq!(
        push["data"],
        json!({"channel": "talk:page-12", "user": "alice", "emoji": "🔥", "count": 1})
    );
    assert_eq!(push["offset"], 1);

    assert_eq!(
        alice.ok("reaction_add", page.clone()).await["changed"],
        false
    );
    assert!(reader.no_push_within(QUIET).await);
    assert_eq!(bob.ok("reaction_add", page.clone()).await["count"], 2);
    bob.ok(
        "reaction_add",
        json!({"channel": "talk:page-12", "emoji": ":clap:"}),
    )
    .await;

    let seen = alice
        .ok("reactions", json!({"channel": "talk:page-12"}))
        .await;
    assert_eq!(
        seen,
        json!({"channel": "talk:page-12", "reactions": {"🔥": {"count": 2, "me": true}, ":clap:": {"count": 1, "me": false}}})
    );
    let seen = reader
        .ok("reactions", json!({"channel": "talk:page-12"}))
        .await;
    assert_eq!(seen["reactions"]["🔥"], json!({"count": 2, "me": false}));
    // Each page keeps its own reactions.
    let other = alice
        .ok("reactions", json!({"channel": "talk:page-13"}))
        .await;
    assert_eq!(other["reactions"], json!({}));

    assert_eq!(reader.push().await["data"]["count"], 2);
    assert_eq!(reader.push().await["data"]["emoji"], ":clap:");
    let removed = bob.ok("reaction_remove", page.clone()).await;
    assert_eq!(removed["count"], 1);
    let push = reader.push().await;
    assert_eq!(push["push"], "reaction_removed");
    assert_eq!(push["data"]["count"], 1);
    server.stop().await;
}

async fn reactions_over_http(backend: Backend) {
    let server = start(backend).await;
    let alice = server.token("alice");
    let mut bob = server.user("bob").await;
    let message = bob
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "hi"}),
        )
        .await;
    let id = message["id"].as_str().unwrap();
    let thumbs = "%F0%9F%91%8D";
    let path = format!("/api/v1/messages/{id}/reactions/{thumbs}");
    let (status, added) = api_call(&server.url(&path), Method::PUT, Some(&alice), None).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (added["count"].as_u64(), added["me"].as_bool()),
        (Some(1), Some(true))
    );
    let (_, again) = api_call(&server.url(&path), Method::PUT, Some(&alice), None).await;
    assert_eq!(again["changed"], false);
    let (status, listed) = api_call(
        &server.url("/api/v1/channels/talk:room/messages"),
        Method::GET,
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["messages"][0]["reactions"],
        json!({"👍": {"count": 1, "me": true}})
    );
    let (status, removed) = api_call(&server.url(&path), Method::DELETE, Some(&alice), None).await;
    assert_eq!(status, 200);
    assert_eq!(removed["count"], 0);

    let channel_path = format!("/api/v1/channels/talk:room/reactions/{thumbs}");
    let (status, _) = api_call(&server.url(&channel_path), Method::PUT, Some(&alice), None).await;
    assert_eq!(status, 200);
    let (status, counts) = api_call(
        &server.url("/api/v1/channels/talk:room/reactions"),
        Method::GET,
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(counts["reactions"], json!({"👍": {"count": 1, "me": true}}));
    let (_, counts) = server
        .api(Method::GET, "/api/v1/channels/talk:room/reactions", None)
        .await;
    assert_eq!(
        counts["reactions"],
        json!({"👍": {"count": 1, "me": false}})
    );
    // Reactions are a user's own: an API key cannot make them.
    let (status, _) = server.api(Method::PUT, &channel_path, None).await;
    assert_eq!(status, 403);
    let (status, body) = api_call(
        &server.url("/api/v1/channels/talk:room/reactions/notanemoji"),
        Method::PUT,
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    server.stop().await;
}

async fn bad_reactions_are_refused(backend: Backend) {
    let server = TestServer::start_on(backend, |config| {
        let vault = parley_server::config::NamespaceConfig {
            persist: true,
            private: true,
            ..Default::default()
        };
        config.apps[0].namespaces.insert("vault".to_owned(), vault);
    })
    .await;
    let mut alice = server.user("alice").await;
    let message = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "hi"}),
        )
        .await;
    for emoji in ["", "ok", "👍👍", " 👍", &"👍".repeat(20) as &str, ":Nope:"] {
        let reply = alice
            .call(
                "reaction_add",
                json!({"message_id": message["id"], "emoji": emoji}),
            )
            .await;
        assert_eq!(reply["error"]["code"], 400, "{emoji:?}: {reply}");
    }
    let cases = [
        (json!({"message_id": "999999", "emoji": "👍"}), 404),
        (json!({"message_id": "nope", "emoji": "👍"}), 400),
        (json!({"emoji": "👍"}), 400),
        (json!({"channel": "chat:x", "emoji": "👍"}), 400),
        (json!({"channel": "secret:x", "emoji": "👍"}), 400),
        (json!({"channel": "vault:x", "emoji": "👍"}), 403),
        (
            json!({"message_id": message["id"], "channel": "talk:other", "emoji": "👍"}),
            400,
        ),
        (
            json!({"message_id": message["id"], "emoji": "👍", "extra": 1}),
            400,
        ),
    ];
    for (params, code) in cases {
        assert_eq!(
            alice.error_code("reaction_add", params.clone()).await,
            code,
            "{params}"
        );
    }
    let mut anonymous = Client::open(&server.ws_url()).await;
    anonymous.ok("connect", json!({})).await;
    assert_eq!(
        anonymous
            .error_code(
                "reaction_add",
                json!({"channel": "talk:room", "emoji": "👍"})
            )
            .await,
        403
    );
    server.stop().await;
}
