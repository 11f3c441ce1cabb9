//! Operating a cluster: Redis over TLS, Redis Sentinel and its failovers,
//! and the cluster's metrics. TLS and Sentinel run on Redis processes of
//! the test's own (`common::redis_process`); the metrics on the shared
//! Redis behind a proxy the test cuts.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::cluster::{
    REDIS, eventually, http_publish, listeners, next_publication, node, node_with,
    persisting_node_with, unique_prefix,
};
use crate::common::redis_process::{Certificates, MASTER, RedisProcess};
use crate::common::tcp_proxy::TcpProxy;
use crate::common::{self, TestDatabase, TestServer, WAIT};

#[tokio::test]
async fn nodes_share_channels_through_a_redis_that_wants_tls_and_client_certificates() {
    let certificates = Certificates::new();
    let redis = RedisProcess::tls(&certificates, true).await;
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let prefix = unique_prefix();
    let with_certificates = |config: &mut parley_server::config::Config| {
        config.cluster.redis_tls_ca = Some(certificates.ca.clone());
        config.cluster.redis_tls_cert = Some(certificates.client_cert.clone());
        config.cluster.redis_tls_key = Some(certificates.client_key.clone());
    };
    let a = node_with(&prefix, &url, with_certificates).await;
    let b = node_with(&prefix, &url, with_certificates).await;
    let mut reader = b.user("reader").await;
    reader.ok("subscribe", json!({"channel": "news"})).await;
    http_publish(&a, "news", json!("over tls")).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!("over tls")));

    // The server's certificate is checked against the configured
    // authority, not taken on trust; and this Redis wants a client's.
    let dir = tempfile::tempdir().unwrap();
    for (what, adjust) in [
        (
            "without the test's authority",
            Box::new(|config: &mut parley_server::config::Config| {
                config.cluster.redis_tls_cert = Some(certificates.client_cert.clone());
                config.cluster.redis_tls_key = Some(certificates.client_key.clone());
            }) as Box<dyn Fn(&mut parley_server::config::Config)>,
        ),
        (
            "without a client certificate",
            Box::new(|config: &mut parley_server::config::Config| {
                config.cluster.redis_tls_ca = Some(certificates.ca.clone());
            }),
        ),
    ] {
        let mut config = common::test_config(dir.path());
        config.cluster.broker = parley_server::config::BrokerKind::Redis;
        config.cluster.redis_url = url.clone();
        config.cluster.redis_timeout = Duration::from_secs(1);
        adjust(&mut config);
        let Err(error) = parley_server::Server::new(config).await else {
            panic!("a node {what} does not start");
        };
        assert!(error.to_string().contains("cluster.redis_url"), "{error}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn nodes_behind_sentinel_keep_delivering_after_a_failover_and_the_old_master_dying() {
    let master = RedisProcess::start().await;
    let replica = RedisProcess::replica_of(&master).await;
    let sentinel = RedisProcess::sentinel_of(&master).await;
    let url = format!("redis+sentinel://127.0.0.1:{}/{MASTER}", sentinel.port);
    let prefix = unique_prefix();
    let a = node(&prefix, &url).await;
    let b = node(&prefix, &url).await;
    let mut reader = b.user("reader").await;
    reader.ok("subscribe", json!({"channel": "news"})).await;
    http_publish(&a, "news", json!("before")).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!("before")));

    // The sentinel promotes the replica; the old master then dies, so a
    // node still talking to it would get nowhere.
    let mut to_sentinel = redis::Client::open(format!("redis://127.0.0.1:{}", sentinel.port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // A failover takes the sentinel a few seconds: bounded by three waits.
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    loop {
        // Refused until the sentinel knows the replica and its link is up
        // ("NOGOODSLAVE"), and while a failover is under way.
        let _: redis::RedisResult<String> = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(MASTER)
            .query_async(&mut to_sentinel)
            .await;
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER)
            .query_async(&mut to_sentinel)
            .await
            .unwrap();
        if port == replica.port {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sentinel fails over to the replica"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut master = master;
    master.kill();

    // Both nodes reconnect to the new master: A publishes to it, and B
    // listens to it (its old master is gone).
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    let mut reader = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes deliver through the new master"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut reader = b.user("reader").await;
        let subscribed = reader.call("subscribe", json!({"channel": "after"})).await;
        if subscribed.get("result").is_none() {
            continue;
        }
        let (status, _) = a
            .api(
                Method::POST,
                "/api/v1/publish",
                Some(json!({"channel": "after", "data": "first"})),
            )
            .await;
        if status == 200 {
            break reader;
        }
    };
    assert_eq!(next_publication(&mut reader).await.1, json!("first"));
    http_publish(&a, "after", json!("second")).await;
    assert_eq!(next_publication(&mut reader).await.1, json!("second"));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn redis_errors_pub_sub_reconnects_gaps_and_their_closes_are_counted() {
    let prefix = unique_prefix();
    let name = format!("ops-{prefix}");
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = node_with(&prefix, &proxy.redis_url(), |config| {
        config.cluster.node = Some(name.clone());
    })
    .await;
    let b = node(&prefix, REDIS).await;
    let topic = format!("{prefix}:topic:4.main:feed:x");
    let mut reader = a.user("reader").await;
    reader.ok("subscribe", json!({"channel": "feed:x"})).await;
    http_publish(&b, "feed:x", json!(1)).await;
    assert_eq!(next_publication(&mut reader).await, (1, json!(1)));
    for metric in [
        "parley_cluster_redis_errors_total",
        "parley_cluster_pubsub_reconnects_total",
        "parley_cluster_gaps_total",
        "parley_cluster_gap_disconnects_total",
    ] {
        assert_eq!(node_metric(&a, metric, &name).await, Some(0.0), "{metric}");
    }

    // Cut off: a publish fails, and B's publications go past the history
    // (five) of the channel A's subscriber listens to.
    proxy.cut();
    eventually("node A is cut off", || async {
        listeners(&topic).await == 0
    })
    .await;
    let (status, _) = a
        .api(
            Method::POST,
            "/api/v1/publish",
            Some(json!({"channel": "feed:x", "data": "lost"})),
        )
        .await;
    assert_eq!(status, 503);
    for n in 2..=9 {
        http_publish(&b, "feed:x", json!(n)).await;
    }
    proxy.restore();
    let (code, _, _) = reader.closed().await;
    assert_eq!(code, 4204);
    eventually("the gap and its close are counted", || async {
        node_metric(&a, "parley_cluster_gap_disconnects_total", &name).await == Some(1.0)
    })
    .await;
    assert_eq!(
        node_metric(&a, "parley_cluster_gaps_total", &name).await,
        Some(1.0)
    );
    assert!(node_metric(&a, "parley_cluster_redis_errors_total", &name).await >= Some(1.0));
    assert!(node_metric(&a, "parley_cluster_pubsub_reconnects_total", &name).await >= Some(1.0));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn commits_waiting_to_be_relayed_show_in_the_relay_backlog() {
    let prefix = unique_prefix();
    let name = format!("ops-{prefix}");
    let database = TestDatabase::create();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = persisting_node_with(&prefix, &proxy.redis_url(), &database, |config| {
        config.cluster.node = Some(name.clone());
    })
    .await;
    assert_eq!(
        node_metric(&a, "parley_cluster_relay_backlog", &name).await,
        Some(0.0)
    );

    proxy.cut();
    for n in 1..=3 {
        http_publish(&a, "talk:ops", json!(n)).await;
    }
    eventually("the commits wait to be relayed", || async {
        node_metric(&a, "parley_cluster_relay_backlog", &name).await == Some(3.0)
    })
    .await;
    proxy.restore();
    eventually("the backlog is relayed once Redis is back", || async {
        node_metric(&a, "parley_cluster_relay_backlog", &name).await == Some(0.0)
    })
    .await;
    a.stop().await;
}

/// The value of `metric` for the node `node` on `server`'s `/metrics`.
async fn node_metric(server: &TestServer, metric: &str, node: &str) -> Option<f64> {
    let (_, text) = common::api_call(&server.url("/metrics"), Method::GET, None, None).await;
    let line = format!("{metric}{{node=\"{node}\"}} ");
    text.as_str()?
        .lines()
        .find_map(|found| found.strip_prefix(&line))
        .and_then(|value| value.trim().parse().ok())
}
