//! Message limits on several nodes over Redis: a user's rate and a
//! channel's slow mode are counted once for the deployment, whichever node
//! each message goes through; a node cut off from Redis keeps limiting on
//! its own count instead of refusing every message.

use crate::common;

use common::TestDatabase;
use common::chat::send;
use common::cluster::{REDIS, persisting_node, unique_prefix};
use common::tcp_proxy::TcpProxy;
use serde_json::json;

/// `limited` allows 10 messages a minute, `slow` one per user per channel
/// every 30 s (see `common::test_config`).
#[tokio::test]
async fn a_user_alternating_between_nodes_is_limited_once() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let a = persisting_node(&prefix, REDIS, &database).await;
    let b = persisting_node(&prefix, REDIS, &database).await;
    let mut on_a = a.user("ann").await;
    let mut on_b = b.user("ann").await;
    for n in 0..5 {
        send(&mut on_a, "limited:room", &format!("a{n}")).await;
        send(&mut on_b, "limited:room", &format!("b{n}")).await;
    }
    for tab in [&mut on_a, &mut on_b] {
        let reply = tab
            .call(
                "message_send",
                json!({"channel": "limited:room", "text": "one too many"}),
            )
            .await;
        assert_eq!(reply["error"]["code"], 429, "{reply}");
        let wait = reply["error"]["retry_after_ms"].as_u64().unwrap();
        assert!(wait > 1000 && wait <= 6000, "{wait}");
    }
    // Another user has a bucket of their own, on either node.
    let mut bob = b.user("bob").await;
    send(&mut bob, "limited:room", "hi").await;

    // Slow mode: the second message in the channel, from the other node.
    send(&mut on_a, "slow:room", "first").await;
    let reply = on_b
        .call(
            "message_send",
            json!({"channel": "slow:room", "text": "second"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 429, "{reply}");
    assert!(reply["error"]["retry_after_ms"].as_u64().unwrap() > 25_000);
    send(&mut on_b, "slow:other", "another channel").await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_node_cut_off_from_redis_limits_on_its_own_count() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = persisting_node(&prefix, &proxy.redis_url(), &database).await;
    let mut ann = a.user("ann").await;
    proxy.cut();
    for n in 0..10 {
        send(&mut ann, "limited:room", &format!("{n}")).await;
    }
    let reply = ann
        .call(
            "message_send",
            json!({"channel": "limited:room", "text": "one too many"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 429, "{reply}");
    proxy.restore();
    a.stop().await;
}
