//! Pusher's special channels: `private-encrypted-` (signed like private,
//! payloads relayed untouched, no client events) and `cache-` channels (the
//! last event replayed on subscribe, or `pusher:cache_miss`); subscription
//! counts pushed to subscribers; Pusher events in a persisted namespace,
//! stored and recovered like native publications; and 4100 when the node
//! is over capacity.

use crate::common;

use std::time::Duration;

use common::pusher::{KEY, Pusher, post_signed};
use common::{Backend, TestServer, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

async fn trigger(server: &TestServer, body: Value) -> u16 {
    post_signed(server, "/apps/main/events", body).await.0
}

#[tokio::test]
async fn encrypted_channels_are_signed_and_relay_ciphertext_untouched() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.enable_client_messages = true;
    })
    .await;
    let mut ann = Pusher::open(&server).await;
    ann.send(json!({"event": "pusher:subscribe", "data": {"channel": "private-encrypted-vault"}}))
        .await;
    let (event, _, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), &data["status"]),
        ("pusher:subscription_error", &json!(401))
    );
    assert_eq!(ann.subscribed("private-encrypted-vault").await, json!({}));

    let sealed = r#"{"nonce":"bm9uY2U=","ciphertext":"c2VhbGVk"}"#;
    let body = json!({"name": "secret", "channel": "private-encrypted-vault", "data": sealed});
    assert_eq!(trigger(&server, body).await, 200);
    let frame = ann.client.push().await;
    assert_eq!(frame["data"], sealed, "the payload is relayed as it came");

    // One channel per trigger, as Pusher requires for encrypted channels.
    let body =
        json!({"name": "secret", "channels": ["private-encrypted-vault", "news"], "data": sealed});
    assert_eq!(trigger(&server, body).await, 400);

    // No client events on encrypted channels.
    ann.send(json!({"event": "client-x", "channel": "private-encrypted-vault", "data": {}}))
        .await;
    let (event, _, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), &data["code"]),
        ("pusher:error", &json!(4301))
    );
}

#[tokio::test]
async fn cache_channels_replay_the_last_event_or_report_a_miss() {
    let server = TestServer::start().await;
    for channel in [
        "cache-news",
        "private-cache-news",
        "private-encrypted-cache-news",
    ] {
        let mut first = Pusher::open(&server).await;
        first.subscribed(channel).await;
        let (event, on, _) = first.event().await;
        assert_eq!(
            (event.as_str(), on.as_deref()),
            ("pusher:cache_miss", Some(channel))
        );

        for n in [1, 2] {
            let body =
                json!({"name": "update", "channel": channel, "data": format!("{{\"n\":{n}}}")});
            assert_eq!(trigger(&server, body).await, 200);
            assert_eq!(first.event().await.2, json!({"n": n}));
        }
        let mut later = Pusher::open(&server).await;
        later.subscribed(channel).await;
        let (event, on, data) = later.event().await;
        assert_eq!(
            (event.as_str(), on.as_deref(), data),
            ("update", Some(channel), json!({"n": 2})),
            "only the last event is kept"
        );
    }
    let mut member = Pusher::open(&server).await;
    member
        .subscribe_presence("presence-cache-room", "ann")
        .await;
    assert_eq!(member.event().await.0, "pusher:cache_miss");
}

#[tokio::test]
async fn cached_events_expire_after_cache_ttl() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.cache_ttl = Duration::from_millis(200);
    })
    .await;
    let body = json!({"name": "update", "channel": "cache-short", "data": "1"});
    assert_eq!(trigger(&server, body).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut late = Pusher::open(&server).await;
    late.subscribed("cache-short").await;
    assert_eq!(late.event().await.0, "pusher:cache_miss");
}

#[tokio::test]
async fn a_full_node_closes_with_4100() {
    let server = TestServer::start_with(|config| config.max_connections = 1).await;
    let _first = Pusher::open(&server).await;
    let url = format!("ws://{}/app/{KEY}?protocol=7", server.addr);
    let mut second = common::Client::open(&url).await;
    let (code, _, texts) = second.closed().await;
    assert_eq!(code, 4100);
    assert_eq!(texts.last().unwrap()["data"]["code"], 4100);
}

on_both_backends!(pusher_events_in_a_persisted_namespace_are_stored_and_recovered);

/// Client events and HTTP triggers take the channel's own publish path: in
/// a persisted namespace they get the store's offsets, are kept in its
/// history and are replayed to a native client that recovers.
async fn pusher_events_in_a_persisted_namespace_are_stored_and_recovered(backend: Backend) {
    let server = TestServer::start_on(backend, |config| {
        config.apps[0].pusher.enable_client_messages = true;
        let default = config.apps[0].namespaces.get_mut("default").unwrap();
        default.persist = true;
    })
    .await;
    let mut native = server.user("ann").await;
    let position = native
        .ok("subscribe", json!({"channel": "private-notes"}))
        .await;
    let mut sender = Pusher::open(&server).await;
    sender.subscribed("private-notes").await;
    let mut other = Pusher::open(&server).await;
    other.subscribed("private-notes").await;

    sender
        .send(json!({"event": "client-typing", "channel": "private-notes", "data": {"n": 1}}))
        .await;
    let (event, _, data) = other.event().await;
    assert_eq!((event.as_str(), data), ("client-typing", json!({"n": 1})));
    let push = native.push().await;
    assert_eq!(push["offset"], 1, "the store's first offset: {push}");
    assert_eq!(
        push["data"],
        json!({"event": "client-typing", "data": {"n": 1}})
    );

    let body = json!({"name": "headline", "channel": "private-notes", "data": "{\"n\":2}"});
    assert_eq!(trigger(&server, body).await, 200);
    assert_eq!(other.event().await.0, "headline");
    assert_eq!(native.push().await["offset"], 2);
    assert_eq!(
        sender.event().await.0,
        "headline",
        "the trigger names no socket_id, so the sender gets it too"
    );

    let (status, history) = server
        .api(
            Method::GET,
            "/api/v1/history?channel=private-notes&limit=10",
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let offsets: Vec<&Value> = history["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publication| &publication["offset"])
        .collect();
    assert_eq!(offsets, [&json!(1), &json!(2)], "{history}");

    // A client that saw nothing since the subscription recovers both.
    let mut late = server.user("bob").await;
    let reply = late
        .ok(
            "subscribe",
            json!({"channel": "private-notes", "since": {"offset": position["offset"], "epoch": position["epoch"]}}),
        )
        .await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert_eq!(late.push().await["data"]["event"], "client-typing");
    assert_eq!(late.push().await["data"]["event"], "headline");
    server.stop().await;
}

#[tokio::test]
async fn subscription_counts_reach_subscribers_after_their_subscription() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.enable_subscription_count = true;
    })
    .await;
    let count = |data: Value| data["subscription_count"].clone();
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("news").await;
    let (event, on, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), on.as_deref(), count(data)),
        ("pusher_internal:subscription_count", Some("news"), json!(1)),
        "the count comes after subscription_succeeded"
    );
    let mut bob = Pusher::open(&server).await;
    bob.subscribed("news").await;
    assert_eq!(count(ann.event().await.2), 2);
    assert_eq!(count(bob.event().await.2), 2);

    // Native subscribers count, but hear no Pusher event.
    let mut native = server.user("cat").await;
    native.ok("subscribe", json!({"channel": "news"})).await;
    assert_eq!(count(ann.event().await.2), 3);
    assert_eq!(count(bob.event().await.2), 3);
    assert!(native.no_push_within(Duration::from_millis(400)).await);

    bob.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}))
        .await;
    assert_eq!(count(ann.event().await.2), 2);
    drop(native);
    assert_eq!(count(ann.event().await.2), 1);

    // Presence channels have members instead, as with Pusher.
    let mut member = Pusher::open(&server).await;
    member.subscribe_presence("presence-room", "dan").await;
    assert!(
        member
            .client
            .no_push_within(Duration::from_millis(600))
            .await
    );
    server.stop().await;

    // Off by default.
    let server = TestServer::start().await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("news").await;
    assert!(ann.client.no_push_within(Duration::from_millis(600)).await);
    server.stop().await;
}
