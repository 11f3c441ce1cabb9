//! Nodes of a Redis cluster for the cluster tests: the Redis on
//! 127.0.0.1:6379, a prefix per test so tests run in parallel.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use parley_server::config::{BrokerKind, Config, NamespaceConfig};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, TestDatabase, TestServer, WAIT, push_named};

pub const REDIS: &str = "redis://127.0.0.1:6379";

/// A prefix no other test uses.
pub fn unique_prefix() -> String {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("parley-test-{random:016x}")
}

/// A node of the deployment under `prefix`, reaching Redis at `redis_url`,
/// with a store of its own: persisted namespaces are left out (nodes share
/// them through one PostgreSQL, see [`persisting_node`]). The `brief`
/// namespace keeps ten publications for one second.
pub async fn node(prefix: &str, redis_url: &str) -> TestServer {
    node_with(prefix, redis_url, |_| {}).await
}

/// Three [`node`]s of one deployment under `prefix`, on the Redis at
/// [`REDIS`].
pub async fn three_nodes(prefix: &str) -> (TestServer, TestServer, TestServer) {
    (
        node(prefix, REDIS).await,
        node(prefix, REDIS).await,
        node(prefix, REDIS).await,
    )
}

/// [`node`], with the configuration adjusted by `adjust` (a node name, TLS
/// files, say).
pub async fn node_with(
    prefix: &str,
    redis_url: &str,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    TestServer::start_with(|config| {
        config.cluster.broker = BrokerKind::Redis;
        config.cluster.prefix = prefix.to_owned();
        config.cluster.redis_url = redis_url.to_owned();
        config.cluster.redis_timeout = Duration::from_secs(1);
        // Keys of finished tests leave Redis within a minute.
        config.stream_idle_ttl = Duration::from_secs(60);
        for app in &mut config.apps {
            app.namespaces.retain(|_, namespace| !namespace.persist);
            app.namespaces.insert(
                "brief".to_owned(),
                NamespaceConfig {
                    allow_publish: true,
                    history_size: 10,
                    history_ttl: Duration::from_secs(1),
                    ..NamespaceConfig::default()
                },
            );
        }
        adjust(config);
    })
    .await
}

/// A node of the deployment under `prefix` whose store is the shared
/// PostgreSQL `database`.
pub async fn persisting_node(prefix: &str, redis_url: &str, database: &TestDatabase) -> TestServer {
    persisting_node_with(prefix, redis_url, database, |_| {}).await
}

/// [`persisting_node`], with the configuration adjusted by `adjust` (more
/// namespaces, say).
pub async fn persisting_node_with(
    prefix: &str,
    redis_url: &str,
    database: &TestDatabase,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    TestServer::start_with(|config| {
        config.cluster.broker = BrokerKind::Redis;
        config.cluster.prefix = prefix.to_owned();
        config.cluster.redis_url = redis_url.to_owned();
        config.cluster.redis_timeout = Duration::from_secs(1);
        config.stream_idle_ttl = Duration::from_secs(60);
        config.database_url = Some(database.url());
        adjust(config);
    })
    .await
}

pub async fn http_publish(server: &TestServer, channel: &str, data: Value) -> Value {
    let (status, body) = server
        .api(
            Method::POST,
            "/api/v1/publish",
            Some(json!({"channel": channel, "data": data})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Publishes `{"from": from, "n": n}` to `channel` through `server`'s HTTP
/// API for each `n` below `count`, one after another.
pub async fn publish_numbered(server: &TestServer, channel: &str, from: &str, count: u64) {
    for n in 0..count {
        http_publish(server, channel, json!({"from": from, "n": n})).await;
    }
}

/// The next publication push of a client, as (offset, data).
pub async fn next_publication(client: &mut Client) -> (u64, Value) {
    let push = push_named(client, "publication").await;
    (push["offset"].as_u64().unwrap(), push["data"].clone())
}

/// How many connections listen to `topic` in Redis.
pub async fn listeners(topic: &str) -> u64 {
    let client = redis::Client::open(REDIS).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let (_, count): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(topic)
        .query_async(&mut connection)
        .await
        .unwrap();
    count
}

/// Polls `check` until it holds, for at most [`WAIT`].
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
