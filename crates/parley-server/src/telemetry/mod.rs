//! Logs through `tracing` and metrics in Prometheus format.
//!
//! - [`log_writer`]: the log's way to standard error, which drops lines
//!   rather than block or panic a task.
//! - [`recorder`]: the metrics recorder, whose held samples are bounded.

pub mod log_writer;
pub mod recorder;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use parley_core::{COUNTERS, Counters, MemoryPresence, Node};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use log_writer::LogWriter;
pub use recorder::Metrics;

/// The process's log writer, once logging is installed: flushed at exit.
static LOG_WRITER: OnceLock<LogWriter> = OnceLock::new();

/// Installs the log subscriber: readable lines by default, JSON on request.
/// The filter comes from `PARLEY_LOG` (for example `parley=debug`), `info`
/// by default. Fails only when the writing thread cannot start.
pub fn init_logging(format: LogFormat) -> std::io::Result<()> {
    init_logging_at(format, "info")
}

/// [`init_logging`] with another filter than `info` when `PARLEY_LOG` is
/// not set (`debug` for `parley serve --dev`).
pub fn init_logging_at(format: LogFormat, default_filter: &str) -> std::io::Result<()> {
    let filter =
        EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colours only for a person at a terminal, not in files or pipes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let writer = match LOG_WRITER.get() {
        Some(writer) => writer.clone(),
        None => {
            let writer = LogWriter::start()?;
            let _ = LOG_WRITER.set(writer.clone());
            writer
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // The formatter reports its own write errors with `eprintln!`,
        // which panics when standard error fails: the task that logged
        // would die. The writer counts what it drops instead.
        .log_internal_errors(false)
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// Writes the log lines still queued, waiting at most `within`.
pub fn flush_logs(within: Duration) {
    if let Some(writer) = LOG_WRITER.get() {
        writer.flush(within);
    }
}

/// The process-wide metrics recorder. Installed once; every server in the
/// process (tests start several) renders from it.
pub fn metrics_handle() -> Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])
                .expect("bucket list is not empty")
                .build_recorder();
            let (recorder, metrics) = recorder::bounded(recorder);
            // Another recorder may be installed already (an embedding
            // program's); then ours renders only what is set through it.
            let _ = metrics::set_global_recorder(recorder);
            metrics
        })
        .clone()
}

/// Drains the held histogram samples every [`recorder::UPKEEP_PERIOD`]
/// until `shutdown`, so that a server nobody scrapes keeps a bounded few.
pub async fn keep_metrics(metrics: Metrics, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(recorder::UPKEEP_PERIOD);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => metrics.run_upkeep(),
        }
    }
}

/// Sets the gauges and hot-path counters that are read at scrape time.
pub fn record_gauges(node: &Node, presence: Option<&MemoryPresence>) {
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
    metrics::counter!("parley_log_lines_dropped_total").absolute(log_writer::lines_dropped());
    if let Some(presence) = presence {
        metrics::gauge!("parley_presence_members").set(presence.member_count() as f64);
        metrics::gauge!("parley_presence_leases").set(presence.lease_count() as f64);
    }
    let info = node.info();
    metrics::gauge!("parley_connections").set(info.connections as f64);
    metrics::gauge!("parley_subscriptions").set(info.subscriptions as f64);
    metrics::gauge!("parley_channels").set(info.channels as f64);
    metrics::gauge!("parley_uptime_seconds").set(info.uptime.as_secs_f64());
}
