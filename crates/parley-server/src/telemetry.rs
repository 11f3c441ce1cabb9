//! Logs through `tracing` and metrics in Prometheus format.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use parley_core::{COUNTERS, Counters, MemoryPresence, Node};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the log subscriber: readable lines by default, JSON on request.
/// The filter comes from `PARLEY_LOG` (for example `parley=debug`), `info`
/// by default.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in files or pipes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The process-wide metrics recorder. Installed once; every server in the
/// process (tests start several) renders from it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (an embedding
            // program's); then ours renders only what is set through it.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Sets the gauges and hot-path counters that are read at scrape time.
pub fn record_gauges(node: &Node, presence: &MemoryPresence) {
    let counters = [
        ("parley_publications_total", &COUNTERS.publications),
        ("parley_deliveries_total", &COUNTERS.deliveries),
        ("parley_slow_disconnects_total", &COUNTERS.slow_disconnects),
        ("parley_bytes_in_total", &COUNTERS.bytes_in),
        ("parley_bytes_out_total", &COUNTERS.bytes_out),
    ];
    for (name, counter) in counters {
        metrics::counter!(name).absolute(Counters::get(counter));
    }
    metrics::gauge!("parley_presence_members").set(presence.member_count() as f64);
    metrics::gauge!("parley_presence_leases").set(presence.lease_count() as f64);
    let info = node.info();
    metrics::gauge!("parley_connections").set(info.connections as f64);
    metrics::gauge!("parley_subscriptions").set(info.subscriptions as f64);
    metrics::gauge!("parley_channels").set(info.channels as f64);
    metrics::gauge!("parley_uptime_seconds").set(info.uptime.as_secs_f64());
}
