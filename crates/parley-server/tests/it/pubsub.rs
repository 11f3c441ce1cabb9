//! Subscribing and publishing over the real wire.

use crate::common;

use std::time::Duration;

use common::{Client, TestServer, channel_token};
use parley_server::config::NamespaceConfig;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn subscriber_receives_client_and_api_publications_with_consecutive_offsets() {
    let server = TestServer::start().await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    alice
        .ok("subscribe", json!({"channel": "chat:room-1"}))
        .await;

    let first = bob
        .ok(
            "publish",
            json!({"channel": "chat:room-1", "data": {"text": "hi"}}),
        )
        .await;
    let (status, second) = server
        .api(
            Method::POST,
            "/api/v1/publish",
            Some(json!({"channel": "chat:room-1", "data": {"text": "from api"}})),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let third = bob
        .ok(
            "publish",
            json!({"channel": "chat:room-1", "data": [1, 2, 3]}),
        )
        .await;

    let offset = first["offset"].as_u64().unwrap();
    assert_eq!(second["offset"].as_u64().unwrap(), offset + 1);
    assert_eq!(third["offset"].as_u64().unwrap(), offset + 2);
    assert_eq!(first["epoch"], second["epoch"]);

    let push = alice.push().await;
    assert_eq!(push["push"], "publication");
    assert_eq!(push["channel"], "chat:room-1");
    assert_eq!(push["data"], json!({"text": "hi"}));
    assert_eq!(push["offset"], first["offset"]);
    assert_eq!(push["epoch"], first["epoch"]);
    assert_eq!(push["info"]["user"], "bob");
    let push = alice.push().await;
    assert_eq!(push["data"], json!({"text": "from api"}));
    assert_eq!(push["offset"], second["offset"]);
    assert!(
        push.get("info").is_none(),
        "API publications carry no client info"
    );
    let push = alice.push().await;
    assert_eq!(
        (push["data"].clone(), push["offset"].clone()),
        (json!([1, 2, 3]), third["offset"].clone())
    );

    // Offsets are per channel: another channel starts at 1.
    let other = bob
        .ok("publish", json!({"channel": "chat:room-2", "data": 0}))
        .await;
    assert_eq!(other["offset"], 1);
    server.stop().await;
}

#[tokio::test]
async fn many_publications_arrive_in_order_without_gaps() {
    let server = TestServer::start().await;
    let mut subscriber = server.user("s").await;
    subscriber.ok("subscribe", json!({"channel": "news"})).await;
    let mut publishers = Vec::new();
    for p in 0..4 {
        let url = server.url("/api/v1/publish");
        publishers.push(tokio::spawn(async move {
            for i in 0..50 {
                let body = json!({"channel": "news", "data": {"p": p, "i": i}});
                let (status, _) =
                    common::api_call(&url, Method::POST, Some(common::API_KEY), Some(body)).await;
                assert_eq!(status, 200);
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let mut last_per_publisher = [-1i64; 4];
    for expected_offset in 1..=200u64 {
        let push = subscriber.push().await;
        assert_eq!(push["offset"], expected_offset);
        let p = push["data"]["p"].as_u64().unwrap() as usize;
        let i = push["data"]["i"].as_i64().unwrap();
        assert_eq!(i, last_per_publisher[p] + 1, "per-publisher order");
        last_per_publisher[p] = i;
    }
    server.stop().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let server = TestServer::start().await;
    let mut alice = server.user("alice").await;
    alice.ok("subscribe", json!({"channel": "news"})).await;
    assert_eq!(
        alice
            .error_code("subscribe", json!({"channel": "news"}))
            .await,
        409
    );
    alice.ok("unsubscribe", json!({"channel": "news"})).await;
    alice
        .ok("publish", json!({"channel": "news", "data": 1}))
        .await;
    assert!(alice.no_push_within(Duration::from_millis(200)).await);
    let (_, channels) = server.api(Method::GET, "/api/v1/channels", None).await;
    assert_eq!(channels["channels"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn personal_channels_refuse_other_users() {
    let server = TestServer::start().await;
    let mut user42 = server.user("42").await;
    let mut user57 = server.user("57").await;
    let mut user7 = server.user("7").await;
    user42.ok("subscribe", json!({"channel": "inbox#42"})).await;
    assert_eq!(
        user7
            .error_code("subscribe", json!({"channel": "inbox#42"}))
            .await,
        403
    );
    assert_eq!(
        user7
            .error_code("subscribe", json!({"channel": "chat:dm#42,57"}))
            .await,
        403
    );
    user42
        .ok("subscribe", json!({"channel": "chat:dm#42,57"}))
        .await;
    user57
        .ok("subscribe", json!({"channel": "chat:dm#42,57"}))
        .await;
    // Only members may publish into a personal channel.
    assert_eq!(
        user7
            .error_code("publish", json!({"channel": "chat:dm#42,57", "data": 1}))
            .await,
        403
    );
    user57
        .ok(
            "publish",
            json!({"channel": "chat:dm#42,57", "data": "hello"}),
        )
        .await;
    assert_eq!(user42.push().await["data"], "hello");
    // A channel token does not open someone else's personal channel either.
    let token = channel_token("7", "inbox#42");
    assert_eq!(
        user7
            .error_code("subscribe", json!({"channel": "inbox#42", "token": token}))
            .await,
        403
    );
    server.stop().await;
}

#[tokio::test]
async fn private_namespace_needs_its_channel_token() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "secret:room"}))
            .await,
        403
    );
    let wrong_channel = channel_token("42", "secret:other");
    assert_eq!(
        client
            .error_code(
                "subscribe",
                json!({"channel": "secret:room", "token": wrong_channel})
            )
            .await,
        401
    );
    let wrong_user = channel_token("43", "secret:room");
    assert_eq!(
        client
            .error_code(
                "subscribe",
                json!({"channel": "secret:room", "token": wrong_user})
            )
            .await,
        401
    );
    let connection_token = server.token("42");
    assert_eq!(
        client
            .error_code(
                "subscribe",
                json!({"channel": "secret:room", "token": connection_token})
            )
            .await,
        401
    );
    // Publishing into a private channel needs the subscription first.
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "secret:room", "data": 1}))
            .await,
        403
    );
    let token = channel_token("42", "secret:room");
    assert_eq!(
        client
            .ok(
                "subscribe",
                json!({"channel": "secret:room", "token": token})
            )
            .await["channel"],
        "secret:room"
    );
    client
        .ok("publish", json!({"channel": "secret:room", "data": 1}))
        .await;
    assert_eq!(client.push().await["data"], 1);
    server.stop().await;
}

#[tokio::test]
async fn namespace_rules_for_publishing_and_names() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "readonly:x", "data": 1}))
            .await,
        403
    );
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "nowhere:x"}))
            .await,
        404
    );
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "has space"}))
            .await,
        400
    );
    assert_eq!(
        client.error_code("subscribe", json!({"channel": ""})).await,
        400
    );
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "x".repeat(256)}))
            .await,
        400
    );
    let big = "x".repeat(4096);
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "chat:a", "data": big}))
            .await,
        413
    );
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "chat:a"}))
            .await,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn apps_do_not_share_channels() {
    let server = TestServer::start().await;
    let mut main = server.user("42").await;
    main.ok("subscribe", json!({"channel": "news"})).await;
    let (status, _) = common::api_call(
        &server.url("/api/v1/publish"),
        Method::POST,
        Some(common::OTHER_API_KEY),
        Some(json!({"channel": "news", "data": "other app"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(main.no_push_within(Duration::from_millis(200)).await);
    let mut other = Client::open(&format!("{}?app=other", server.ws_url())).await;
    other
        .ok(
            "connect",
            json!({"token": common::token_with(common::OTHER_SECRET, "42", |_| {})}),
        )
        .await;
    other.ok("subscribe", json!({"channel": "news"})).await;
    let (_, channels) = server.api(Method::GET, "/api/v1/channels", None).await;
    assert_eq!(
        channels["channels"],
        json!([{"channel": "news", "subscribers": 1}])
    );
    server.stop().await;
}

#[tokio::test]
async fn in_memory_history_and_recovery() {
    let server = TestServer::start().await;
    let mut publisher = server.user("pub").await;
    let mut reader = server.user("reader").await;
    let position = reader.ok("subscribe", json!({"channel": "feed:x"})).await;
    assert_eq!(position["offset"], 0);
    reader.ok("unsubscribe", json!({"channel": "feed:x"})).await;
    for n in 1..=3 {
        publisher
            .ok("publish", json!({"channel": "feed:x", "data": n}))
            .await;
    }
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "feed:x", "since": {"offset": 0, "epoch": position["epoch"]}}),
        )
        .await;
    assert_eq!(
        (reply["recovered"].as_bool(), reply["offset"].as_u64()),
        (Some(true), Some(3))
    );
    for n in 1..=3u64 {
        let push = reader.push().await;
        assert_eq!(
            (push["offset"].as_u64(), push["data"].as_u64()),
            (Some(n), Some(n))
        );
    }
    // Past history_size (5) the stream no longer reaches back.
    reader.ok("unsubscribe", json!({"channel": "feed:x"})).await;
    for n in 4..=10 {
        publisher
            .ok("publish", json!({"channel": "feed:x", "data": n}))
            .await;
    }
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "feed:x", "since": {"offset": 3, "epoch": position["epoch"]}}),
        )
        .await;
    assert_eq!(reply["recovered"], false);
    let page = reader
        .ok("history", json!({"channel": "feed:x", "limit": 2}))
        .await;
    let offsets: Vec<u64> = page["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(
        (offsets, page["has_more"].as_bool()),
        (vec![9, 10], Some(true))
    );
    let page = reader
        .ok("history", json!({"channel": "feed:x", "after": 7}))
        .await;
    assert_eq!(page["publications"].as_array().unwrap().len(), 3);
    assert_eq!(
        reader
            .error_code("history", json!({"channel": "news"}))
            .await,
        400
    );
    server.stop().await;
}

/// A replay far larger than the client's queue (40 publications of 50 KB
/// against 256 KiB) is paged into the queue as the connection writes: the
/// client is not closed as slow, and gets every missed publication once, in
/// order, then the live ones (held meanwhile, and as many again as the
/// queue takes). Both for an in-memory stream and a persisted
/// one (a store replay).
#[tokio::test]
async fn a_replay_larger_than_the_queue_is_paged_not_closed() {
    let server = TestServer::start_with(|config| {
        config.max_queue_bytes = 256 * 1024;
        let namespaces = &mut config.apps[0].namespaces;
        let open = NamespaceConfig {
            allow_publish: true,
            max_message_bytes: 60_000,
            ..NamespaceConfig::default()
        };
        namespaces.insert(
            "kept".to_owned(),
            NamespaceConfig {
                history_size: 100,
                history_ttl: Duration::from_secs(600),
                ..open.clone()
            },
        );
        namespaces.insert(
            "stored".to_owned(),
            NamespaceConfig {
                persist: true,
                max_recovery: 100,
                ..open
            },
        );
    })
    .await;
    let mut publisher = server.user("pub").await;
    let mut reader = server.user("reader").await;
    let filler = "x".repeat(50_000);
    for channel in ["kept:big", "stored:big"] {
        let position = reader.ok("subscribe", json!({"channel": channel})).await;
        reader.ok("unsubscribe", json!({"channel": channel})).await;
        for n in 1..=40 {
            publisher
                .ok(
                    "publish",
                    json!({"channel": channel, "data": {"n": n, "filler": filler}}),
                )
                .await;
        }
        let since = json!({"offset": position["offset"], "epoch": position["epoch"]});
        let reply = reader
            .ok("subscribe", json!({"channel": channel, "since": since}))
            .await;
        assert_eq!(reply["recovered"], true, "{channel}: {reply}");
        // Live publications while the replay is still being written (the
        // reader reads nothing yet): held, more than the queue takes too.
        for n in 41..=48 {
            publisher
                .ok(
                    "publish",
                    json!({"channel": channel, "data": {"n": n, "filler": filler}}),
                )
                .await;
        }
        let first = position["offset"].as_u64().unwrap();
        for n in 1..=48u64 {
            let push = reader.push().await;
            assert_eq!(push["channel"], channel);
            assert_eq!(
                (push["offset"].as_u64(), push["data"]["n"].as_u64()),
                (Some(first + n), Some(n)),
                "{channel}: every publication once, in order"
            );
        }
        assert!(
            reader.no_push_within(Duration::from_millis(200)).await,
            "{channel}: nothing twice"
        );
    }
    // Still open.
    reader.ok("ping", json!({})).await;
    server.stop().await;
}

/// The hub's invariants hold after every step a session drives over the
/// wire: subscribe, unsubscribe, and a disconnect that ends the rest.
#[tokio::test]
async fn the_hub_keeps_its_invariants_through_subscribe_unsubscribe_and_disconnect() {
    let server = TestServer::start().await;
    let hub = &server.state.default_app.app.hub;
    let check = || hub.check_invariants().unwrap();
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    check();
    for channel in ["news", "sport"] {
        alice.ok("subscribe", json!({"channel": channel})).await;
        bob.ok("subscribe", json!({"channel": channel})).await;
        check();
    }
    alice.ok("unsubscribe", json!({"channel": "news"})).await;
    check();
    bob.ok("publish", json!({"channel": "sport", "data": 1}))
        .await;
    assert_eq!(alice.push().await["data"], 1);
    check();
    drop(bob);
    let mut waited = Duration::ZERO;
    while hub.connection_count() > 1 {
        assert!(
            waited < Duration::from_secs(5),
            "bob's disconnect never ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    check();
    assert_eq!((hub.channel_count(), hub.subscription_count()), (1, 1));
    alice.ok("unsubscribe", json!({"channel": "sport"})).await;
    check();
    assert_eq!((hub.channel_count(), hub.subscription_count()), (0, 0));
    server.stop().await;
}
