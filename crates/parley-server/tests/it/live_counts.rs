//! Live presence counts: namespaces with `presence_stats_interval` push
//! `presence_stats` to their channels' subscribers when the counts change,
//! throttled, the last push exact.

use crate::common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, WAIT};
use futures_util::future::join_all;
use parley_server::config::NamespaceConfig;
use serde_json::{Value, json};

const INTERVAL: Duration = Duration::from_millis(500);
const CHANNEL: &str = "arena:final";

/// A server whose `arena` namespace has presence, anonymous viewers and
/// live counts every [`INTERVAL`], and which lets one address send
/// thousands of heartbeats.
async fn arena() -> TestServer {
    TestServer::start_with(|config| {
        config.heartbeats_per_ip = "100000/s".parse().unwrap();
        config.apps[0].namespaces.insert(
            "arena".to_owned(),
            NamespaceConfig {
                presence: true,
                anonymous: true,
                presence_stats_interval: Some(INTERVAL),
                ..NamespaceConfig::default()
            },
        );
    })
    .await
}

fn is_stats(push: &Value) -> bool {
    push["push"] == "presence_stats" && push["channel"] == CHANNEL
}

/// Reads pushes until a `presence_stats` push with `anonymous` anonymous
/// viewers; returns the `presence_stats` pushes read, that one last.
async fn stats_until(client: &mut Client, anonymous: u64) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let push = tokio::time::timeout(left, client.push())
            .await
            .unwrap_or_else(|_| panic!("no count of {anonymous} anonymous viewers: {seen:?}"));
        if is_stats(&push) {
            let done = push["num_anonymous"] == anonymous;
            seen.push(push);
            if done {
                return seen;
            }
        }
    }
}

async fn heartbeat(url: &str, session: usize) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({"channel": CHANNEL, "session_id": format!("viewer-{session}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn five_hundred_anonymous_viewers_arriving_produce_few_pushes_and_the_last_is_exact() {
    let server = arena().await;
    let mut watcher = server.user("watcher").await;
    watcher.ok("subscribe", json!({"channel": CHANNEL})).await;
    let first = stats_until(&mut watcher, 0).await;
    assert_eq!(
        first.last().unwrap(),
        &json!({"push": "presence_stats", "channel": CHANNEL,
                "num_users": 1, "num_connections": 1, "num_anonymous": 0})
    );

    // 100 anonymous WebSocket viewers and 400 heartbeat viewers arrive, ten
    // at a time.
    let started = Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..10 {
        let opened = join_all((0..10).map(|_| async {
            let mut viewer = Client::open(&server.ws_url()).await;
            viewer.ok("connect", json!({})).await;
            viewer.ok("subscribe", json!({"channel": CHANNEL})).await;
            viewer
        }))
        .await;
        sockets.extend(opened);
    }
    let url = server.url("/api/v1/presence/heartbeat");
    for batch in 0..40 {
        join_all((0..10).map(|index| heartbeat(&url, batch * 10 + index))).await;
    }
    let pushes = stats_until(&mut watcher, 500).await;
    let elapsed = started.elapsed();
    eprintln!(
        "FIGURE: {} presence_stats pushes for 500 arrivals in {elapsed:?}",
        pushes.len()
    );
    assert_eq!(
        pushes.last().unwrap(),
        &json!({"push": "presence_stats", "channel": CHANNEL,
                "num_users": 1, "num_connections": 1, "num_anonymous": 500})
    );
    // At most one push per interval (the flush runs with the presence
    // sweep, so the window may end a sweep late), never one per arrival.
    let bound = (elapsed.as_millis() / INTERVAL.as_millis()) as usize + 2;
    assert!(
        pushes.len() <= bound,
        "{} pushes in {elapsed:?}, at most {bound}: {pushes:?}",
        pushes.len()
    );
    assert!(
        pushes.len() < 50,
        "{} pushes for 500 arrivals",
        pushes.len()
    );
    // Nothing changed since the exact count: nothing more is pushed.
    let later = watcher.pushes_within(INTERVAL * 3).await;
    assert!(!later.iter().any(is_stats), "{later:?}");

    // Viewers leaving are counted too.
    sockets.truncate(40);
    let gone = stats_until(&mut watcher, 440).await;
    assert_eq!(gone.last().unwrap()["num_users"], 1);
    server.stop().await;
}

#[tokio::test]
async fn namespaces_without_the_option_push_no_counts() {
    let server = arena().await;
    let mut watcher = server.user("watcher").await;
    // `stream` has presence and anonymous viewers, no presence_stats_interval.
    watcher
        .ok("subscribe", json!({"channel": "stream:plain"}))
        .await;
    let mut viewer = Client::open(&server.ws_url()).await;
    viewer.ok("connect", json!({})).await;
    viewer
        .ok("subscribe", json!({"channel": "stream:plain"}))
        .await;
    let pushes = watcher.pushes_within(INTERVAL * 2).await;
    assert!(
        !pushes.iter().any(|push| push["push"] == "presence_stats"),
        "{pushes:?}"
    );
    server.stop().await;
}
