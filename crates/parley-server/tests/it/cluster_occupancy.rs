//! Channel occupancy across a Redis cluster: a channel's subscribers on
//! every node are listed on any node (`/api/v1/channels`, the Pusher
//! `/channels` routes), `channel_occupied` and `channel_vacated` are sent
//! once per transition of the deployment (hold-back included), and a node
//! that dies takes its subscribers out of the counts. Each test has a
//! prefix of its own on the Redis at 127.0.0.1:6379.

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::cluster::{REDIS, eventually, node_with, unique_prefix};
use common::pusher::{Pusher, signed};
use common::tcp_proxy::TcpProxy;
use common::webhooks::Receiver;
use reqwest::Method;
use serde_json::{Value, json};

/// A node of the deployment under `prefix` with a one-second `node_ttl`,
/// sending `channel_occupied` and `channel_vacated` webhooks to `hooks`
/// (with `hold_back`) when given.
async fn occupancy_node(
    prefix: &str,
    redis_url: &str,
    hooks: Option<(&str, Duration)>,
) -> TestServer {
    occupancy_node_sending(
        prefix,
        redis_url,
        hooks,
        &["channel_occupied", "channel_vacated"],
    )
    .await
}

/// [`occupancy_node`], sending the webhooks named in `events`.
async fn occupancy_node_sending(
    prefix: &str,
    redis_url: &str,
    hooks: Option<(&str, Duration)>,
    events: &[&str],
) -> TestServer {
    node_with(prefix, redis_url, |config| {
        config.cluster.node_ttl = Duration::from_secs(1);
        if let Some((url, hold_back)) = hooks {
            let webhooks = &mut config.apps[0].webhooks;
            webhooks.urls = vec![url.to_owned()];
            webhooks.events = events.iter().map(|event| (*event).to_owned()).collect();
            webhooks.batch_window = Duration::from_millis(100);
            webhooks.hold_back = hold_back;
        }
    })
    .await
}

/// `/api/v1/channels` on `server`.
async fn listed(server: &TestServer) -> Value {
    let (status, body) = server.api(Method::GET, "/api/v1/channels", None).await;
    assert_eq!(status, 200, "{body}");
    body["channels"].clone()
}

async fn unsubscribe(client: &mut Pusher, channel: &str) {
    client
        .send(json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}))
        .await;
}

#[tokio::test]
async fn a_channel_is_listed_on_every_node_with_the_deployments_subscribers() {
    let prefix = unique_prefix();
    let a = occupancy_node(&prefix, REDIS, None).await;
    let b = occupancy_node(&prefix, REDIS, None).await;
    let c = occupancy_node(&prefix, REDIS, None).await;
    let mut on_b = Pusher::open(&b).await;
    on_b.subscribe_public("news").await;
    let mut on_c = Pusher::open(&c).await;
    on_c.subscribe_public("news").await;

    eventually("A lists news with the subscribers of B and C", || async {
        listed(&a).await == json!([{"channel": "news", "subscribers": 2}])
    })
    .await;
    assert_eq!(listed(&a).await, listed(&c).await);
    let (status, body) = signed(
        &a,
        Method::GET,
        "/apps/main/channels",
        &[("info", "subscription_count")],
        None,
        "/apps/main/channels",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"channels": {"news": {"subscription_count": 2}}})
    );
    let (status, body) = signed(
        &a,
        Method::GET,
        "/apps/main/channels/news",
        &[("info", "subscription_count")],
        None,
        "/apps/main/channels/news",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"occupied": true, "subscription_count": 2}));

    unsubscribe(&mut on_c, "news").await;
    eventually("A counts B's subscriber alone", || async {
        listed(&a).await == json!([{"channel": "news", "subscribers": 1}])
    })
    .await;
    unsubscribe(&mut on_b, "news").await;
    eventually("no node lists news", || async {
        listed(&a).await == json!([]) && listed(&b).await == json!([])
    })
    .await;
    let (_, body) = signed(
        &c,
        Method::GET,
        "/apps/main/channels/news",
        &[],
        None,
        "/apps/main/channels/news",
    )
    .await;
    assert_eq!(body, json!({"occupied": false}));
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn occupied_and_vacated_are_sent_once_per_transition_of_the_deployment() {
    let prefix = unique_prefix();
    let mut receiver = Receiver::start(0).await;
    let hooks = Some((receiver.url.as_str(), Duration::from_millis(1000)));
    let a = occupancy_node(&prefix, REDIS, hooks).await;
    let b = occupancy_node(&prefix, REDIS, hooks).await;
    let c = occupancy_node(&prefix, REDIS, hooks).await;

    let mut ann = Pusher::open(&a).await;
    ann.subscribe_public("news").await;
    assert_eq!(
        receiver.events_until("channel_occupied").await,
        vec![json!({"name": "channel_occupied", "channel": "news"})]
    );
    let mut bob = Pusher::open(&b).await;
    bob.subscribe_public("news").await;
    let mut cat = Pusher::open(&c).await;
    cat.subscribe_public("news").await;
    // A and B lose their last subscribers while C still has one: the
    // channel stays occupied for the deployment.
    unsubscribe(&mut ann, "news").await;
    unsubscribe(&mut bob, "news").await;
    eventually("C's subscriber alone is counted", || async {
        listed(&a).await == json!([{"channel": "news", "subscribers": 1}])
    })
    .await;
    // The last subscriber leaves on C and one comes back on A within the
    // hold-back: neither transition is sent.
    unsubscribe(&mut cat, "news").await;
    ann.subscribe_public("news").await;
    assert!(
        receiver.nothing_within(Duration::from_millis(1800)).await,
        "no webhook while the channel stayed occupied"
    );
    unsubscribe(&mut ann, "news").await;
    assert_eq!(
        receiver.events_until("channel_vacated").await,
        vec![json!({"name": "channel_vacated", "channel": "news"})]
    );
    assert!(
        receiver.nothing_within(Duration::from_millis(1500)).await,
        "one vacated, from one node"
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn a_dead_nodes_subscribers_leave_the_counts_and_come_back_with_it() {
    let prefix = unique_prefix();
    let mut receiver = Receiver::start(0).await;
    let hooks = Some((receiver.url.as_str(), Duration::ZERO));
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = occupancy_node(&prefix, REDIS, hooks).await;
    let b = occupancy_node(&prefix, &proxy.redis_url(), hooks).await;
    let mut on_b = Pusher::open(&b).await;
    on_b.subscribe_public("news").await;
    assert_eq!(
        receiver.events_until("channel_occupied").await,
        vec![json!({"name": "channel_occupied", "channel": "news"})]
    );
    eventually("A lists B's channel", || async {
        listed(&a).await == json!([{"channel": "news", "subscribers": 1}])
    })
    .await;

    // B loses Redis: its counts age out after node_ttl and A sweeps them.
    proxy.cut();
    assert_eq!(
        receiver.events_until("channel_vacated").await,
        vec![json!({"name": "channel_vacated", "channel": "news"})]
    );
    assert_eq!(listed(&a).await, json!([]));

    // B is back: it finds its counts gone and writes them again.
    proxy.restore();
    assert_eq!(
        receiver.events_until("channel_occupied").await,
        vec![json!({"name": "channel_occupied", "channel": "news"})]
    );
    eventually("A lists B's channel again", || async {
        listed(&a).await == json!([{"channel": "news", "subscribers": 1}])
    })
    .await;

    // A clean stop takes B's counts out at once (its `channel_vacated` is
    // queued in B's own store, delivered when it starts again).
    b.stop().await;
    assert_eq!(listed(&a).await, json!([]));
    a.stop().await;
}

#[tokio::test]
async fn the_subscription_count_webhook_counts_every_nodes_subscribers() {
    let prefix = unique_prefix();
    let mut receiver = Receiver::start(0).await;
    let hooks = Some((receiver.url.as_str(), Duration::ZERO));
    let a = occupancy_node_sending(&prefix, REDIS, hooks, &["subscription_count"]).await;
    let b = occupancy_node_sending(&prefix, REDIS, hooks, &["subscription_count"]).await;
    let mut on_a = Pusher::open(&a).await;
    on_a.subscribe_public("news").await;
    assert_eq!(
        receiver.events_until("subscription_count").await,
        vec![json!({"name": "subscription_count", "channel": "news", "subscription_count": 1})]
    );
    let mut on_b = Pusher::open(&b).await;
    on_b.subscribe_public("news").await;
    assert_eq!(
        receiver.events_until("subscription_count").await,
        vec![json!({"name": "subscription_count", "channel": "news", "subscription_count": 2})],
        "B reports the deployment's count, not its own"
    );
    unsubscribe(&mut on_a, "news").await;
    assert_eq!(
        receiver.events_until("subscription_count").await,
        vec![json!({"name": "subscription_count", "channel": "news", "subscription_count": 1})]
    );
    a.stop().await;
    b.stop().await;
}
