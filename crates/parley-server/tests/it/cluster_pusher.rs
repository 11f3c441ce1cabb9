//! Pusher state across a Redis cluster: a cache channel's last event
//! reaches a subscriber on another node, `subscription_count` counts every
//! node's subscribers, and watchlists hear `online` and `offline` of users
//! signed in on any node. (`terminate_connections` across nodes is in
//! `cluster_control`.) Each test has a prefix of its own on the Redis at
//! 127.0.0.1:6379.

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::cluster::{REDIS, node_with, unique_prefix};
use common::pusher::{Pusher, post_signed};
use parley_server::config::Config;
use serde_json::{Value, json};

/// A node of the deployment under `prefix`, its first app adjusted by
/// `adjust`.
async fn pusher_node(prefix: &str, adjust: impl FnOnce(&mut Config)) -> TestServer {
    node_with(prefix, REDIS, |config| {
        config.cluster.node_ttl = Duration::from_secs(1);
        adjust(config);
    })
    .await
}

/// The next event of `client` named `name`, skipping others, as (channel,
/// data).
async fn next_named(client: &mut Pusher, name: &str) -> (Option<String>, Value) {
    loop {
        let (event, channel, data) = client.event().await;
        if event == name {
            return (channel, data);
        }
    }
}

#[tokio::test]
async fn a_cache_channels_last_event_reaches_a_subscriber_on_another_node() {
    let prefix = unique_prefix();
    let a = pusher_node(&prefix, |_| {}).await;
    let b = pusher_node(&prefix, |_| {}).await;

    let mut early = Pusher::open(&b).await;
    early.subscribe_public("cache-prices").await;
    let (event, channel, _) = early.event().await;
    assert_eq!(
        (event.as_str(), channel.as_deref()),
        ("pusher:cache_miss", Some("cache-prices"))
    );

    let (status, body) = post_signed(
        &a,
        "/apps/main/events",
        json!({"name": "price", "channel": "cache-prices", "data": "{\"eur\":3}"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (channel, data) = next_named(&mut early, "price").await;
    assert_eq!(
        (channel.as_deref(), data),
        (Some("cache-prices"), json!({"eur": 3}))
    );

    let mut late = Pusher::open(&b).await;
    late.subscribe_public("cache-prices").await;
    let (event, channel, data) = late.event().await;
    assert_eq!(
        (event.as_str(), channel.as_deref(), data),
        ("price", Some("cache-prices"), json!({"eur": 3})),
        "the event sent through A, from the deployment's cache"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn subscription_counts_count_the_subscribers_of_every_node() {
    let prefix = unique_prefix();
    let counting = |config: &mut Config| config.apps[0].pusher.enable_subscription_count = true;
    let a = pusher_node(&prefix, counting).await;
    let b = pusher_node(&prefix, counting).await;
    let c = pusher_node(&prefix, counting).await;

    let mut on_a = Pusher::open(&a).await;
    on_a.subscribe_public("news").await;
    let mut on_b = Pusher::open(&b).await;
    on_b.subscribe_public("news").await;
    let mut on_c = Pusher::open(&c).await;
    on_c.subscribe_public("news").await;
    // Each hears the count grow, whichever node the others are on, up to 3
    // (a node's own count alone never gets there).
    for client in [&mut on_a, &mut on_b, &mut on_c] {
        count_reaches(client, 3).await;
    }
    on_c.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}))
        .await;
    for client in [&mut on_a, &mut on_b] {
        count_reaches(client, 2).await;
    }
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// Reads `client`'s subscription counts of `news` until one is `count`
/// (each read fails the test after its bounded wait).
async fn count_reaches(client: &mut Pusher, count: u64) {
    loop {
        let (channel, data) = next_named(client, "pusher_internal:subscription_count").await;
        assert_eq!(channel.as_deref(), Some("news"));
        if data["subscription_count"] == count {
            return;
        }
    }
}

#[tokio::test]
async fn watchlists_hear_users_signed_in_on_any_node() {
    let prefix = unique_prefix();
    let a = pusher_node(&prefix, |_| {}).await;
    let b = pusher_node(&prefix, |_| {}).await;
    let c = pusher_node(&prefix, |_| {}).await;

    let mut ann = Pusher::open(&a).await;
    ann.sign_in(json!({"id": "ann", "watchlist": ["bob"]}))
        .await;
    let (_, data) = next_named(&mut ann, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data,
        json!({"events": [{"name": "offline", "user_ids": ["bob"]}]})
    );

    let mut bob = Pusher::open(&b).await;
    bob.sign_in(json!({"id": "bob"})).await;
    let (_, data) = next_named(&mut ann, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data,
        json!({"events": [{"name": "online", "user_ids": ["bob"]}]}),
        "bob signed in on B"
    );
    // A second connection of bob's, on C, changes nothing for watchers.
    let mut bob_again = Pusher::open(&c).await;
    bob_again.sign_in(json!({"id": "bob"})).await;

    let mut cat = Pusher::open(&c).await;
    cat.sign_in(json!({"id": "cat", "watchlist": ["bob", "ann", "dan"]}))
        .await;
    let (_, data) = next_named(&mut cat, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data,
        json!({"events": [
            {"name": "online", "user_ids": ["bob", "ann"]},
            {"name": "offline", "user_ids": ["dan"]},
        ]})
    );

    // bob's connection on C ends: the one on B (whose count made him
    // online) still holds him.
    drop(bob_again);
    assert!(
        ann.client.no_push_within(Duration::from_millis(800)).await,
        "bob is still signed in on B"
    );
    drop(bob);
    for watcher in [&mut ann, &mut cat] {
        let (_, data) = next_named(watcher, "pusher_internal:watchlist_events").await;
        assert_eq!(
            data,
            json!({"events": [{"name": "offline", "user_ids": ["bob"]}]}),
            "bob's last connection ended"
        );
    }
    a.stop().await;
    b.stop().await;
    c.stop().await;
}
