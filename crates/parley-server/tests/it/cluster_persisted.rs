//! Persisted namespaces on several nodes over Redis: the nodes share one
//! fresh PostgreSQL database per test, and Redis carries each node's
//! commits to the others.

use crate::common;

use std::time::Duration;

use common::TestDatabase;
use common::cluster::{
    REDIS, http_publish, next_publication, persisting_node, publish_numbered, unique_prefix,
};
use common::tcp_proxy::TcpProxy;
use serde_json::json;

#[tokio::test]
async fn persisted_commits_of_two_nodes_reach_every_node_in_offset_order_once() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let a = persisting_node(&prefix, REDIS, &database).await;
    let b = persisting_node(&prefix, REDIS, &database).await;
    let c = persisting_node(&prefix, REDIS, &database).await;
    // A reader on a committing node, and one on a node that only reads.
    let mut on_a = a.user("reader-a").await;
    let mut on_c = c.user("reader-c").await;
    on_a.ok("subscribe", json!({"channel": "talk:x"})).await;
    on_c.ok("subscribe", json!({"channel": "talk:x"})).await;
    const EACH: u64 = 50;
    tokio::join!(
        publish_numbered(&a, "talk:x", "a", EACH),
        publish_numbered(&b, "talk:x", "b", EACH)
    );
    for reader in [&mut on_a, &mut on_c] {
        for expected in 1..=2 * EACH {
            let (offset, _) = next_publication(reader).await;
            assert_eq!(offset, expected, "offsets arrive in order, none missing");
        }
    }
    // A chat message sent on B is a message event on A, with the next offset.
    let mut writer = b.user("writer").await;
    writer
        .ok(
            "message_send",
            json!({"channel": "talk:x", "text": "hello"}),
        )
        .await;
    for reader in [&mut on_a, &mut on_c] {
        let push = reader.push().await;
        assert_eq!(
            (push["push"].as_str(), push["offset"].as_u64()),
            (Some("message_created"), Some(2 * EACH + 1)),
            "{push}"
        );
        assert!(
            reader.no_push_within(Duration::from_millis(300)).await,
            "nothing twice"
        );
    }
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_commit_missing_when_a_later_one_arrives_is_read_from_the_store() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = persisting_node(&prefix, &proxy.redis_url(), &database).await;
    let b = persisting_node(&prefix, REDIS, &database).await;
    let c = persisting_node(&prefix, REDIS, &database).await;
    let mut on_a = a.user("reader-a").await;
    let mut on_c = c.user("reader-c").await;
    on_a.ok("subscribe", json!({"channel": "talk:y"})).await;
    on_c.ok("subscribe", json!({"channel": "talk:y"})).await;
    http_publish(&b, "talk:y", json!(1)).await;
    assert_eq!(next_publication(&mut on_c).await, (1, json!(1)));
    assert_eq!(next_publication(&mut on_a).await, (1, json!(1)));

    // A commits offset 2 while cut off from Redis: its own reader gets it,
    // the other nodes never hear of it until B's offset 3 shows the gap.
    proxy.cut();
    let reply = http_publish(&a, "talk:y", json!(2)).await;
    assert_eq!(reply["offset"], 2);
    assert_eq!(next_publication(&mut on_a).await, (2, json!(2)));
    http_publish(&b, "talk:y", json!(3)).await;
    assert_eq!(next_publication(&mut on_c).await, (2, json!(2)));
    assert_eq!(next_publication(&mut on_c).await, (3, json!(3)));

    // A, back on Redis, catches up on offset 3 from the store.
    proxy.restore();
    assert_eq!(next_publication(&mut on_a).await, (3, json!(3)));
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_persisted_channel_is_recovered_on_another_node_once() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let a = persisting_node(&prefix, REDIS, &database).await;
    let b = persisting_node(&prefix, REDIS, &database).await;
    let mut reader = a.user("reader").await;
    let subscribed = reader.ok("subscribe", json!({"channel": "talk:z"})).await;
    http_publish(&b, "talk:z", json!(1)).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));
    drop(reader);
    for n in 2..=4 {
        http_publish(&a, "talk:z", json!(n)).await;
    }
    // Back on B while A keeps publishing: the replay and the live pushes
    // together hold every offset once, in order.
    let mut reader = b.user("reader").await;
    let publishing = {
        let url = a.url("/api/v1/publish");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 5..=30 {
                let response = client
                    .post(&url)
                    .bearer_auth(common::API_KEY)
                    .json(&json!({"channel": "talk:z", "data": n}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "talk:z", "since": {"offset": 1, "epoch": subscribed["epoch"]}}),
        )
        .await;
    assert_eq!(reply["recovered"], true, "{reply}");
    publishing.await.unwrap();
    for n in 2..=30u64 {
        assert_eq!(next_publication(&mut reader).await, (n, json!(n)));
    }
    assert!(
        reader.no_push_within(Duration::from_millis(300)).await,
        "nothing twice"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_recovering_client_gets_commits_its_node_has_not_delivered_yet_live_once() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = persisting_node(&prefix, REDIS, &database).await;
    let b = persisting_node(&prefix, &proxy.redis_url(), &database).await;
    // Keeps node B listening to the channel while it is cut off.
    let mut keeper = b.user("keeper").await;
    let subscribed = keeper.ok("subscribe", json!({"channel": "talk:w"})).await;
    http_publish(&a, "talk:w", json!(1)).await;
    assert_eq!(next_publication(&mut keeper).await, (1, json!(1)));

    // Committed while B cannot hear of them: the store has them, B has not
    // delivered them.
    proxy.cut();
    for n in 2..=3 {
        http_publish(&a, "talk:w", json!(n)).await;
    }
    let mut reader = b.user("reader").await;
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "talk:w", "since": {"offset": 1, "epoch": subscribed["epoch"]}}),
        )
        .await;
    assert_eq!(
        (reply["recovered"].as_bool(), reply["offset"].as_u64()),
        (Some(true), Some(1)),
        "the replay ends where node B's delivery is"
    );
    proxy.restore();
    for n in 2..=3u64 {
        assert_eq!(next_publication(&mut reader).await, (n, json!(n)));
    }
    assert!(
        reader.no_push_within(Duration::from_millis(300)).await,
        "nothing twice"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_commit_made_while_cut_off_from_redis_is_relayed_when_it_is_back() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = persisting_node(&prefix, &proxy.redis_url(), &database).await;
    let c = persisting_node(&prefix, REDIS, &database).await;
    let mut reader = c.user("reader").await;
    reader.ok("subscribe", json!({"channel": "talk:v"})).await;
    http_publish(&a, "talk:v", json!(1)).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));
    proxy.cut();
    // Committed and acknowledged without Redis; nothing later shows the
    // gap, so only the relay, once Redis is back, brings it.
    http_publish(&a, "talk:v", json!(2)).await;
    proxy.restore();
    assert_eq!(next_publication(&mut reader).await, (2, json!(2)));
    a.stop().await;
    c.stop().await;
}
