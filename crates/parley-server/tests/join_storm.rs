//! A join storm: 2,000 users subscribe to one presence channel at once,
//! and presence reaches each subscriber in a bounded number of frames.
//!
//! A binary of its own, apart from `it/`: it raises the process's
//! open-file limit and holds 4,000 sockets at once (a client's and the
//! server's end of each connection), which every test of a shared process
//! would count against, and it keeps both cores busy while timing-sensitive
//! tests would run beside it.

mod common;

use std::time::Duration;

use common::{Client, TestServer, api_call};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_join_storm_is_batched_into_a_bounded_number_of_frames() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // Clients wait unread while the others connect: no pings meanwhile.
    let server = TestServer::start_with(|config| {
        config.ping_interval = Duration::from_secs(300);
        for namespace in config.apps[0].namespaces.values_mut() {
            namespace.presence_ttl = Duration::from_secs(600);
        }
    })
    .await;
    const USERS: usize = 2000;
    let names: Vec<String> = (0..USERS).map(|user| format!("u{user}")).collect();
    let clients: Vec<Client> = futures_util::stream::iter(&names)
        .map(|name| server.user(name))
        .buffer_unordered(64)
        .collect()
        .await;
    // Every client subscribes at once, then counts the presence frames it
    // gets until the channel is quiet.
    let mut tasks = Vec::with_capacity(USERS);
    for mut client in clients {
        tasks.push(tokio::spawn(async move {
            client
                .ok("subscribe", json!({"channel": "room:storm"}))
                .await;
            let mut frames = 0usize;
            loop {
                match tokio::time::timeout(Duration::from_secs(2), client.push()).await {
                    Err(_) => break,
                    Ok(push) => {
                        frames += 1;
                        let kind = push["push"].as_str();
                        assert!(
                            matches!(kind, Some("join" | "presence_diff")),
                            "unexpected push {kind:?}"
                        );
                    }
                }
            }
            (frames, client)
        }));
    }
    let mut total_frames = 0;
    let mut max_frames = 0;
    let mut clients = Vec::with_capacity(USERS);
    for task in tasks {
        let (frames, client) = task.await.unwrap();
        total_frames += frames;
        max_frames = max_frames.max(frames);
        clients.push(client);
    }
    let stats = clients[0]
        .ok("presence_stats", json!({"channel": "room:storm"}))
        .await;
    assert_eq!(stats["num_users"], USERS);
    // One push per join per subscriber would be about USERS²/2 = 2,000,000
    // frames. Batches every 100 ms bound each subscriber to one frame per
    // window of the storm.
    assert!(
        max_frames <= 200,
        "a subscriber got {max_frames} presence frames"
    );
    assert!(total_frames <= USERS * 200, "{total_frames} frames in all");
    println!("storm: {total_frames} presence frames in all, at most {max_frames} per subscriber");
    let (_, metrics) = api_call(&server.url("/metrics"), Method::GET, None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("parley_presence_diff_batches_total")
    );
    server.stop().await;
}
