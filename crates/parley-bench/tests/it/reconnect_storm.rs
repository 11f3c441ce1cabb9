//! The `reconnect-storm` scenario against a real Parley server started
//! in-process on 127.0.0.1:0: every client drops at once and comes back,
//! and the generator must count right what the server recovered, what it
//! could not, and what was lost. Nothing here asserts speed.

use crate::common;

use common::TestServer;
use parley_bench::report::{ReconnectStats, Report, StormStats};

fn stats(report: &Report) -> &ReconnectStats {
    report.reconnect.as_ref().expect("a reconnect-storm report")
}

/// Every client of every storm reconnected and subscribed again.
fn assert_all_back(report: &Report, clients: usize) {
    let stats = stats(report);
    assert_eq!(report.connections.open, clients, "{report:#?}");
    assert_eq!(stats.clients, clients);
    for storm in &stats.storms {
        assert_eq!(storm.clients, clients, "{report:#?}");
        assert_eq!(storm.reconnected, clients, "{report:#?}");
        assert_eq!(storm.resubscribed, clients, "{report:#?}");
        assert!(storm.all_reconnected_seconds.is_some());
        assert!(storm.all_resubscribed_seconds.is_some());
        assert_eq!(storm.gave_up, 0);
    }
    assert_eq!(
        stats.reconnect_ms.count,
        (clients * stats.storms.len()) as u64
    );
    assert_eq!(stats.unplanned_disconnects, 0, "{report:#?}");
    assert!(report.publications.as_ref().unwrap().accepted > 0);
    assert_eq!(report.publications.as_ref().unwrap().failed, 0);
}

/// Every client got back everything it missed, and nothing was lost.
fn assert_all_recovered(report: &Report, clients: usize) {
    assert_all_back(report, clients);
    let stats = stats(report);
    for storm in &stats.storms {
        assert_eq!(storm.recovered, Some(clients), "{report:#?}");
        assert_eq!(storm.not_recovered, Some(0));
        assert!(storm.all_recovered_seconds.is_some());
        // Every client was away for at least 100 ms of 20 publications/s
        // per channel: each missed some.
        assert!(storm.replayed.unwrap() >= clients as u64, "{report:#?}");
        assert_eq!(storm.unrecovered, Some(0));
        assert_eq!(storm.gaps, Some(0), "{report:#?}");
    }
    assert_eq!(stats.gaps, Some(0));
    assert_eq!(stats.duplicates, Some(0));
    assert_eq!(stats.new_epochs, Some(0));
    let deliveries = report.deliveries.as_ref().unwrap();
    assert_eq!(deliveries.delivered, deliveries.expected, "{report:#?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_over_memory_history_recovers_every_client_without_a_gap() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "reconnect-storm",
            "--connections",
            "200",
            "--channels",
            "20",
            "--rate",
            "400",
            "--storms",
            "2",
            "--reconnect-spread",
            "100ms..300ms",
            "--interval",
            "500ms",
            "--duration",
            "20s",
        ])
        .await;
    assert_all_recovered(&report, 200);
    let stats = stats(&report);
    assert_eq!(stats.recover_ms.as_ref().unwrap().count, 400);
    // No client reconnected before its wait was over.
    assert!(stats.reconnect_ms.p50 >= 100.0, "{report:#?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_over_a_persisted_namespace_recovers_from_the_store() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "reconnect-storm",
            "--connections",
            "30",
            "--channels",
            "3",
            "--rate",
            "60",
            "--reconnect-spread",
            "100ms..200ms",
            "--interval",
            "500ms",
            "--duration",
            "20s",
            "--channel-prefix",
            "chat:storm-",
        ])
        .await;
    assert_all_recovered(&report, 30);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_without_history_reports_every_client_unrecovered() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "reconnect-storm",
            "--connections",
            "40",
            "--channels",
            "4",
            "--rate",
            "200",
            "--reconnect-spread",
            "100ms..200ms",
            "--interval",
            "500ms",
            "--duration",
            "20s",
            "--channel-prefix",
            "bench:",
        ])
        .await;
    assert_all_back(&report, 40);
    let stats = stats(&report);
    let storm: &StormStats = &stats.storms[0];
    assert_eq!(storm.recovered, Some(0), "{report:#?}");
    assert_eq!(storm.not_recovered, Some(40), "{report:#?}");
    assert_eq!(storm.all_recovered_seconds, None);
    assert_eq!(storm.replayed, Some(0));
    // Each client missed at least 100 ms of 50 publications/s.
    assert!(storm.unrecovered.unwrap() >= 40 * 4, "{report:#?}");
    // After `recovered: false` the pushes go on from the reply's offset.
    assert_eq!(stats.gaps, Some(0), "{report:#?}");
    assert_eq!(stats.not_recovered, Some(40));
    assert_eq!(stats.recover_ms.as_ref().unwrap().count, 0);
    // What they missed never came: the deliveries show it as loss.
    let deliveries = report.deliveries.as_ref().unwrap();
    assert_eq!(
        deliveries.expected - deliveries.delivered,
        storm.unrecovered.unwrap(),
        "{report:#?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_storm_resubscribes_everyone_and_reports_no_recovery() {
    let server = TestServer::start().await;
    let report = server
        .bench(&[
            "reconnect-storm",
            "--protocol",
            "pusher",
            "--connections",
            "30",
            "--channels",
            "3",
            "--rate",
            "60",
            "--batch",
            "10",
            "--reconnect-spread",
            "100ms..200ms",
            "--interval",
            "500ms",
            "--duration",
            "20s",
        ])
        .await;
    assert_all_back(&report, 30);
    let stats = stats(&report);
    assert!(stats.recover_ms.is_none());
    assert_eq!(stats.replayed, None);
    assert_eq!(stats.gaps, None);
    let storm = &stats.storms[0];
    assert_eq!((storm.recovered, storm.all_recovered_seconds), (None, None));
    assert_eq!(stats.back_after_wait_ms.count, 30);
    // Without recovery, what was published while the clients were away
    // is lost, and the deliveries say so.
    let deliveries = report.deliveries.as_ref().unwrap();
    assert!(deliveries.delivered < deliveries.expected, "{report:#?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    server.stop().await;
}
