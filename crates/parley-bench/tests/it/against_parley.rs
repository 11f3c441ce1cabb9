//! Runs the generator against a real Parley server started in-process on
//! 127.0.0.1:0, and checks that it counts right: every expected delivery
//! arrives and is counted once. Nothing here asserts speed.

use crate::common;

use common::{API_KEY, TestServer};
use parley_bench::report::Report;

fn assert_no_loss(report: &Report) {
    let deliveries = report.deliveries.as_ref().unwrap();
    let publications = report.publications.as_ref().unwrap();
    assert_eq!(report.connections.open, report.connections.requested);
    assert!(publications.accepted > 0, "{report:#?}");
    assert_eq!(publications.failed, 0, "{report:#?}");
    assert_eq!(deliveries.delivered, deliveries.expected, "{report:#?}");
    assert_eq!(deliveries.loss_percent, 0.0);
    assert_eq!(
        report.latency_ms.as_ref().unwrap().count,
        deliveries.delivered
    );
    assert_eq!(report.disconnects.slow_4201, 0);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_fanout_over_the_http_api_loses_nothing() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "fanout",
            "--connections",
            "20",
            "--channels",
            "2",
            "--duration",
            "1s",
            "--rate",
            "200",
            "--batch",
            "10",
        ])
        .await;
    assert_no_loss(&report);
    let publications = report.publications.as_ref().unwrap();
    // Each channel has 10 subscribers: every publication is delivered 10 times.
    assert_eq!(
        report.deliveries.as_ref().unwrap().expected,
        publications.accepted * 10
    );
    assert!(report.server.is_some());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_fanout_published_from_connections_loses_nothing() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "fanout",
            "--connections",
            "20",
            "--channels",
            "4",
            "--subscribers",
            "5",
            "--duration",
            "1s",
            "--rate",
            "100",
            "--publish-via",
            "ws",
        ])
        .await;
    assert_no_loss(&report);
    let publications = report.publications.as_ref().unwrap();
    assert_eq!(publications.sent, publications.accepted);
    assert_eq!(
        report.deliveries.as_ref().unwrap().expected,
        publications.accepted * 5
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_connection_and_the_count_is_bounded() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "broadcast",
            "--connections",
            "15",
            "--duration",
            "2s",
            "--rate",
            "50",
            "--max-publications",
            "7",
        ])
        .await;
    assert_no_loss(&report);
    assert_eq!(report.publications.as_ref().unwrap().accepted, 7);
    assert_eq!(report.deliveries.as_ref().unwrap().delivered, 7 * 15);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_connect_open_every_connection() {
    let server = TestServer::start().await;
    let idle = server
        .bench(&[
            "idle",
            "--connections",
            "10",
            "--channels",
            "2",
            "--duration",
            "200ms",
            "--settle",
            "50ms",
        ])
        .await;
    assert_eq!(idle.connections.open, 10);
    assert!(idle.server.unwrap().rss_per_connection_bytes.is_some());
    let connect = server
        .bench(&["connect", "--connections", "25", "--duration", "5s"])
        .await;
    assert_eq!(connect.connections.open, 25);
    assert_eq!(connect.connections.failed, 0);
    assert_eq!(connect.connect.unwrap().time_ms.count, 25);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_storm_subscribes_everyone_and_everyone_sees_their_own_join() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "presence-storm",
            "--connections",
            "30",
            "--duration",
            "10s",
            "--quiet",
            "300ms",
        ])
        .await;
    assert_eq!(report.connections.open, 30);
    let presence = report.presence.as_ref().unwrap();
    assert_eq!(presence.subscribed, 30, "{report:#?}");
    assert_eq!(presence.refused, 0);
    assert!(presence.all_subscribed_seconds.is_some());
    // Every subscriber gets the joins after its own, its own included.
    assert_eq!(presence.saw_own_join, 30, "{report:#?}");
    assert!(presence.pushes_per_connection[0] >= 1);
    assert!(presence.members_announced >= 30);
    assert_eq!(
        presence.pushes,
        presence.join_pushes + presence.batch_pushes + presence.leave_pushes
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_storm_outside_a_presence_namespace_reports_the_refusals() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "presence-storm",
            "--connections",
            "3",
            "--channel",
            "nowhere:1",
            "--duration",
            "3s",
            "--quiet",
            "100ms",
        ])
        .await;
    let presence = report.presence.as_ref().unwrap();
    assert_eq!(presence.subscribed, 0);
    assert_eq!(presence.refused, 3);
    assert_eq!(presence.pushes, 0);
    assert!(!report.errors.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_writes_are_acknowledged_once_each() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "chat",
            "--connections",
            "6",
            "--channels",
            "3",
            "--duration",
            "1s",
        ])
        .await;
    assert_eq!(report.connections.open, 6);
    let chat = report.chat.as_ref().unwrap();
    assert!(chat.acked > 0, "{report:#?}");
    assert_eq!(chat.sent, chat.acked, "{report:#?}");
    assert_eq!(chat.refused + chat.unanswered, 0);
    assert_eq!(chat.ack_ms.count, chat.acked);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // The messages are in the store: the newest of channel 0 is there.
    let api = format!(
        "http://{}/api/v1/history?channel=chat:bench-0&limit=1",
        server.addr
    );
    let history: serde_json::Value = reqwest::Client::new()
        .get(api)
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history["offset"].as_u64().unwrap() > 0, "{history}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_writes_reach_every_watcher() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "docs",
            "--connections",
            "5",
            "--watchers",
            "2",
            "--keys",
            "10",
            "--duration",
            "1s",
        ])
        .await;
    let docs = report.docs.as_ref().unwrap();
    assert_eq!((docs.writers, docs.watchers), (3, 2), "{report:#?}");
    assert!(docs.acked > 0, "{report:#?}");
    assert_eq!(docs.sent, docs.acked, "{report:#?}");
    assert_eq!(docs.refused + docs.unanswered, 0);
    assert_eq!(docs.ack_ms.count, docs.acked);
    // Every watcher saw changes, each document in them timed.
    assert!(docs.changes >= 2, "{report:#?}");
    assert!(docs.documents_seen > 0);
    assert_eq!(docs.change_ms.count, docs.documents_seen);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_chat_writes_and_a_namespace_without_persistence_is_refused() {
    let server = TestServer::start().await;
    let paced = server
        .bench(&[
            "chat",
            "--connections",
            "4",
            "--channels",
            "2",
            "--duration",
            "1s",
            "--rate",
            "40",
        ])
        .await;
    let chat = paced.chat.as_ref().unwrap();
    // 40/s for one second, give or take the schedule's edges.
    assert!((30..=44).contains(&chat.acked), "{paced:#?}");
    assert_eq!(chat.refused, 0);
    let refused = server
        .bench(&[
            "chat",
            "--connections",
            "2",
            "--duration",
            "300ms",
            "--channel-prefix",
            "bench:",
        ])
        .await;
    let chat = refused.chat.as_ref().unwrap();
    assert_eq!(chat.acked, 0);
    assert!(chat.refused > 0, "{refused:#?}");
    assert!(!refused.errors.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_runs_every_cycle_to_the_end_and_samples_the_server() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "soak",
            "--connections",
            "4",
            "--cycle-rate",
            "20",
            "--users",
            "5",
            "--duration",
            "2s",
            "--sample-every",
            "500ms",
            "--baseline-at",
            "1s",
            "--scrape-every",
            "500ms",
        ])
        .await;
    let soak = report.soak.as_ref().unwrap();
    assert!(soak.cycles > 10, "{report:#?}");
    assert_eq!(
        (soak.failed_cycles, soak.error_replies),
        (0, 0),
        "{report:#?}"
    );
    assert!(soak.scrapes > 0 && soak.scrape_failures == 0, "{report:#?}");
    assert!(soak.rss_samples.len() >= 4, "{report:#?}");
    assert!(soak.growth_percent.is_some());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Every cycle wrote a chat message to the persisted namespace.
    let api = format!(
        "http://{}/api/v1/history?channel=chat:soak-0&limit=1",
        server.addr
    );
    let history: serde_json::Value = reqwest::Client::new()
        .get(api)
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history["offset"].as_u64().unwrap() > 0, "{history}");
    server.stop().await;
}
