//! Several nodes over Redis (`[cluster] broker = "redis"`): servers started
//! in-process against the Redis on 127.0.0.1:6379, each test under its own
//! key prefix so tests run in parallel. Persisted namespaces across nodes
//! are in `cluster_persisted.rs`.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::WAIT;
use common::cluster::{
    REDIS, eventually, http_publish, listeners, next_publication, node, publish_numbered,
    unique_prefix,
};
use common::tcp_proxy::TcpProxy;
use parley_server::config::BrokerKind;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_publication_on_one_node_reaches_a_subscriber_on_another() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let b = node(&prefix, REDIS).await;
    let mut reader = a.user("reader").await;
    let subscribed = reader.ok("subscribe", json!({"channel": "news"})).await;
    assert_eq!(subscribed["offset"], 0);

    let reply = http_publish(&b, "news", json!({"n": 1})).await;
    assert_eq!(reply["offset"], 1);
    assert_eq!(
        reply["epoch"], subscribed["epoch"],
        "one stream for both nodes"
    );
    assert_eq!(next_publication(&mut reader).await, (1, json!({"n": 1})));

    let mut writer = b.user("writer").await;
    let reply = writer
        .ok("publish", json!({"channel": "news", "data": {"n": 2}}))
        .await;
    assert_eq!(reply["offset"], 2);
    let push = reader.push().await;
    assert_eq!(
        (push["offset"].as_u64(), &push["data"], &push["epoch"]),
        (Some(2), &json!({"n": 2}), &subscribed["epoch"])
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn publications_from_two_nodes_reach_a_third_in_offset_order() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let b = node(&prefix, REDIS).await;
    let c = node(&prefix, REDIS).await;
    let mut reader = c.user("reader").await;
    reader.ok("subscribe", json!({"channel": "news"})).await;
    const EACH: u64 = 100;
    tokio::join!(
        publish_numbered(&a, "news", "a", EACH),
        publish_numbered(&b, "news", "b", EACH)
    );
    let mut seen = BTreeSet::new();
    for expected in 1..=2 * EACH {
        let (offset, data) = next_publication(&mut reader).await;
        assert_eq!(offset, expected, "offsets arrive in order, none missing");
        seen.insert((
            data["from"].as_str().unwrap().to_owned(),
            data["n"].as_u64().unwrap(),
        ));
    }
    assert_eq!(seen.len() as u64, 2 * EACH, "every publication once");
    assert!(reader.no_push_within(Duration::from_millis(200)).await);
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_moves_to_another_node_recovers_what_it_missed() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let b = node(&prefix, REDIS).await;
    let mut reader = a.user("reader").await;
    let subscribed = reader.ok("subscribe", json!({"channel": "feed:x"})).await;
    http_publish(&a, "feed:x", json!(1)).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));
    drop(reader);
    for n in 2..=4 {
        http_publish(&a, "feed:x", json!(n)).await;
    }

    let mut reader = b.user("reader").await;
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "feed:x", "since": {"offset": 1, "epoch": subscribed["epoch"]}}),
        )
        .await;
    assert_eq!(
        (reply["recovered"].as_bool(), reply["offset"].as_u64()),
        (Some(true), Some(4))
    );
    for n in 2..=4u64 {
        assert_eq!(next_publication(&mut reader).await, (n, json!(n)));
    }
    // Live publications follow the replay, from either node.
    http_publish(&a, "feed:x", json!(5)).await;
    assert_eq!(next_publication(&mut reader).await, (5, json!(5)));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn history_past_its_size_or_age_is_not_recovered() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let b = node(&prefix, REDIS).await;
    // `feed` keeps five publications.
    let first = http_publish(&a, "feed:x", json!(1)).await;
    for n in 2..=8 {
        http_publish(&a, "feed:x", json!(n)).await;
    }
    let mut reader = b.user("reader").await;
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "feed:x", "since": {"offset": 1, "epoch": first["epoch"]}}),
        )
        .await;
    assert_eq!(
        (reply["recovered"].as_bool(), reply["offset"].as_u64()),
        (Some(false), Some(8))
    );
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "feed:y", "since": {"offset": 0, "epoch": "other"}}),
        )
        .await;
    assert_eq!(reply["recovered"], false, "another epoch is not recovered");

    // `brief` keeps publications for one second.
    let first = http_publish(&a, "brief:x", json!(1)).await;
    http_publish(&a, "brief:x", json!(2)).await;
    let since = json!({"offset": 0, "epoch": first["epoch"]});
    let mut recovered = reader
        .ok("subscribe", json!({"channel": "brief:x", "since": since}))
        .await;
    assert_eq!(recovered["recovered"], true);
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));
    assert_eq!(next_publication(&mut reader).await, (2, json!(2)));
    reader
        .ok("unsubscribe", json!({"channel": "brief:x"}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while recovered["recovered"] == true {
        assert!(tokio::time::Instant::now() < deadline, "history expires");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut fresh = b.user("fresh").await;
        recovered = fresh
            .ok("subscribe", json!({"channel": "brief:x", "since": since}))
            .await;
    }
    assert_eq!(recovered["offset"], 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_node_listens_to_a_channel_only_while_it_has_subscribers() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let b = node(&prefix, REDIS).await;
    let topic = format!("{prefix}:topic:4.main:news");
    assert_eq!(listeners(&topic).await, 0);
    let mut first = a.user("first").await;
    let mut second = a.user("second").await;
    first.ok("subscribe", json!({"channel": "news"})).await;
    second.ok("subscribe", json!({"channel": "news"})).await;
    assert_eq!(listeners(&topic).await, 1, "one connection per node");
    first.ok("unsubscribe", json!({"channel": "news"})).await;
    assert_eq!(listeners(&topic).await, 1, "a subscriber is left");
    http_publish(&b, "news", json!(1)).await;
    assert_eq!(next_publication(&mut second).await, (1, json!(1)));
    second.ok("unsubscribe", json!({"channel": "news"})).await;
    eventually("the node stops listening", || async {
        listeners(&topic).await == 0
    })
    .await;
    // A subscriber coming back listens again.
    first.ok("subscribe", json!({"channel": "news"})).await;
    assert_eq!(listeners(&topic).await, 1);
    http_publish(&b, "news", json!(2)).await;
    assert_eq!(next_publication(&mut first).await, (2, json!(2)));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn publishing_without_redis_is_a_clear_error_and_works_again_after() {
    let prefix = unique_prefix();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = node(&prefix, &proxy.redis_url()).await;
    let mut writer = a.user("writer").await;
    writer
        .ok("publish", json!({"channel": "news", "data": 1}))
        .await;
    proxy.cut();

    let (status, body) = a
        .api(
            Method::POST,
            "/api/v1/publish",
            Some(json!({"channel": "news", "data": 2})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"]["message"],
        "the broker is unavailable; retry later"
    );
    let reply = writer
        .call("publish", json!({"channel": "news", "data": 3}))
        .await;
    assert_eq!(reply["error"]["code"], 503, "{reply}");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = writer
            .call("publish", json!({"channel": "news", "data": 4}))
            .await;
        if reply.get("result").is_some() {
            assert_eq!(
                reply["result"]["offset"], 2,
                "the failed ones took no offset"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "publishing works again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.stop().await;
}

#[tokio::test]
async fn a_node_back_from_a_redis_outage_catches_up_or_closes_its_subscribers() {
    let prefix = unique_prefix();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = node(&prefix, &proxy.redis_url()).await;
    let b = node(&prefix, REDIS).await;
    let topic = format!("{prefix}:topic:4.main:feed:x");
    let mut reader = a.user("reader").await;
    reader.ok("subscribe", json!({"channel": "feed:x"})).await;
    http_publish(&b, "feed:x", json!(1)).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));

    // Missed while cut off, within the history (five): caught up in order.
    proxy.cut();
    eventually("node A is cut off", || async {
        listeners(&topic).await == 0
    })
    .await;
    for n in 2..=4 {
        http_publish(&b, "feed:x", json!(n)).await;
    }
    proxy.restore();
    for n in 2..=4u64 {
        assert_eq!(next_publication(&mut reader).await, (n, json!(n)));
    }
    eventually("node A listens again", || async {
        listeners(&topic).await == 1
    })
    .await;
    http_publish(&b, "feed:x", json!(5)).await;
    assert_eq!(next_publication(&mut reader).await, (5, json!(5)));

    // Missed past the history: the subscriber is told to reconnect.
    proxy.cut();
    eventually("node A is cut off", || async {
        listeners(&topic).await == 0
    })
    .await;
    for n in 6..=13 {
        http_publish(&b, "feed:x", json!(n)).await;
    }
    proxy.restore();
    let (code, reason, pushes) = reader.closed().await;
    assert_eq!(code, 4204, "{reason}");
    assert!(
        pushes.iter().all(|push| push["push"] != "publication"),
        "nothing of the gap's far side is delivered: {pushes:?}"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.cluster.broker = BrokerKind::Redis;
    // Nothing listens on port 1.
    config.cluster.redis_url = "redis://127.0.0.1:1".to_owned();
    let Err(error) = parley_server::Server::new(config).await else {
        panic!("an unreachable Redis stops the start");
    };
    assert!(error.to_string().contains("cluster.redis_url"), "{error}");
}
