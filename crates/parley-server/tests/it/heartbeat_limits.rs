//! The limits of presence heartbeats (`POST /api/v1/presence/heartbeat`):
//! per client address (`heartbeats_per_ip`) and per channel
//! (`max_heartbeat_sessions`); and behind a reverse proxy: with the proxy
//! in `trusted_proxies`, each viewer named by `X-Forwarded-For` has a
//! bucket of its own; without it, the header is ignored, so a client
//! cannot escape its limit by writing one.

use crate::common;

use std::time::Duration;

use common::TestServer;
use parley_server::config::TrustedProxies;
use reqwest::Method;
use serde_json::{Value, json};

/// A heartbeat of `session` claiming to come from `forwarded_for`; the
/// response's status.
async fn beat(server: &TestServer, session: &str, forwarded_for: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url("/api/v1/presence/heartbeat"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"channel": "stream:cup", "session_id": session}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn server(trusted: TrustedProxies) -> TestServer {
    TestServer::start_with(move |config| {
        config.heartbeats_per_ip = "2/min".parse().unwrap();
        config.trusted_proxies = trusted;
        let stream = config.apps[0].namespaces.get_mut("stream").unwrap();
        stream.stale_after = Duration::from_secs(60);
    })
    .await
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let proxy = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
    let server = server(proxy).await;
    assert_eq!(beat(&server, "a", "6.6.6.6, 203.0.113.1").await, 200);
    assert_eq!(beat(&server, "a", "203.0.113.1").await, 200);
    // The bucket of 203.0.113.1 is empty, whatever it wrote to the left.
    assert_eq!(beat(&server, "a", "7.7.7.7, 203.0.113.1").await, 429);
    // Another viewer behind the same proxy is not held back by it.
    assert_eq!(beat(&server, "b", "203.0.113.2").await, 200);
}

#[tokio::test]
async fn from_an_untrusted_peer_the_header_is_ignored() {
    let server = server(TrustedProxies::default()).await;
    assert_eq!(beat(&server, "a", "203.0.113.1").await, 200);
    assert_eq!(beat(&server, "b", "203.0.113.2").await, 200);
    // Every request counted against the TCP peer: a forged header does not
    // buy a new bucket.
    assert_eq!(beat(&server, "c", "203.0.113.3").await, 429);
}

#[tokio::test]
async fn heartbeats_are_limited_per_address_and_sessions_per_channel() {
    let server = TestServer::start_with(|config| {
        config.heartbeats_per_ip = "5/min".parse().unwrap();
        let stream = config.apps[0].namespaces.get_mut("stream").unwrap();
        stream.max_heartbeat_sessions = 2;
        stream.stale_after = Duration::from_secs(60);
    })
    .await;
    let url = server.url("/api/v1/presence/heartbeat");
    let beat = |session: &'static str| {
        let url = url.clone();
        async move {
            let response = reqwest::Client::new()
                .post(&url)
                .json(&json!({"channel": "stream:cup", "session_id": session}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
            (status, retry_after, response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(beat("tv-1").await.0, 200);
    assert_eq!(beat("tv-2").await.0, 200);
    // The channel holds two sessions: a third is refused, the known ones
    // are still renewed.
    let (status, _, body) = beat("tv-3").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], 409);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("heartbeat sessions"),
        "{body}"
    );
    assert_eq!(beat("tv-1").await.0, 200);
    assert_eq!(beat("tv-2").await.0, 200);

    // Five heartbeats from this address so far, the refused one included:
    // the sixth waits for the bucket (one every 12 s).
    let (status, retry_after, body) = beat("tv-1").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        retry_after.is_some_and(|seconds| (1..=12).contains(&seconds)),
        "{retry_after:?}"
    );
    assert_eq!(body["error"]["code"], 429);
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() >= 1000);
    let stats = server
        .api(
            Method::GET,
            "/api/v1/presence/stats?channel=stream:cup",
            None,
        )
        .await
        .1;
    assert_eq!(
        stats["num_anonymous"], 2,
        "the refused session never joined"
    );
    server.stop().await;
}
