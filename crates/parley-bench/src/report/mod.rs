//! The result of a run: a table on stdout for people, a JSON file for
//! machines.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::measure::{Measured, ServerPids, micros_per, percent_of_core};
use crate::metrics::{SLOW_CLIENT_CLOSE, Snapshot, Tally};

mod reconnect;
mod table;

pub use reconnect::{ReconnectStats, StormStats};

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The scenario: fanout, broadcast, idle, connect, presence-storm,
    /// chat or reconnect-storm.
    pub scenario: String,
    /// The protocol spoken.
    pub protocol: String,
    /// The server's base URL.
    pub url: String,
    /// The scenario's settings, as given.
    pub settings: BTreeMap<String, String>,
    /// Connections opened.
    pub connections: Connections,
    /// Connection setup (connect scenario, and every run's opening phase).
    pub connect: Option<ConnectStats>,
    /// Publications sent.
    pub publications: Option<Publications>,
    /// Deliveries received against those expected.
    pub deliveries: Option<Deliveries>,
    /// End-to-end latency of deliveries, in milliseconds.
    pub latency_ms: Option<Percentiles>,
    /// The presence storm (presence-storm scenario).
    pub presence: Option<PresenceStats>,
    /// Chat messages written (chat scenario).
    pub chat: Option<ChatStats>,
    /// Documents written and watched (docs scenario).
    pub docs: Option<DocsStats>,
    /// The drops and comebacks (reconnect-storm scenario).
    pub reconnect: Option<ReconnectStats>,
    /// The churn and the server's memory over time (soak scenario).
    pub soak: Option<SoakStats>,
    /// Connections the server closed or that broke.
    pub disconnects: Disconnects,
    /// The server process, when `--server-pid` was given.
    pub server: Option<ServerStats>,
    /// This process.
    pub generator: GeneratorStats,
    /// The whole machine: what other processes used while the run was
    /// measured, and the load average.
    pub machine: Option<MachineStats>,
    /// Errors seen, by message, with counts.
    pub errors: BTreeMap<String, u64>,
}

/// A soak: connection cycles, and the server's RSS from the baseline
/// sample to the last.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SoakStats {
    /// Connection cycles run to the end or failed.
    pub cycles: u64,
    /// Cycles that failed (no connection, a broken one, a timeout).
    pub failed_cycles: u64,
    /// Error replies to the cycles' commands.
    pub error_replies: u64,
    /// Cycles due while the most allowed at once were running.
    pub skipped_cycles: u64,
    /// Reads of `/metrics` that succeeded.
    pub scrapes: u64,
    /// Reads of `/metrics` that failed or timed out.
    pub scrape_failures: u64,
    /// When the baseline sample was taken, seconds from the start.
    pub baseline_seconds: Option<u64>,
    /// The server's RSS at the baseline, bytes.
    pub baseline_rss_bytes: Option<u64>,
    /// When the last sample was taken, seconds from the start.
    pub end_seconds: Option<u64>,
    /// The server's RSS at the end, bytes.
    pub end_rss_bytes: Option<u64>,
    /// Growth from the baseline to the end, percent.
    pub growth_percent: Option<f64>,
    /// Every sample: seconds from the start, RSS bytes.
    pub rss_samples: Vec<(u64, u64)>,
}

/// Connections opened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Connections {
    /// Asked for.
    pub requested: usize,
    /// Opened (and subscribed).
    pub open: usize,
    /// Could not be opened or subscribed.
    pub failed: usize,
}

/// How fast connections opened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectStats {
    /// Connections opened per second.
    pub per_second: f64,
    /// Seconds the opening phase took.
    pub seconds: f64,
    /// Handshake time (TCP connect to protocol handshake done), ms.
    pub time_ms: Percentiles,
    /// Server CPU per connection opened, in microseconds (connect
    /// scenario).
    pub server_cpu_us_per_connection: Option<f64>,
    /// Generator CPU per connection opened, in microseconds (connect
    /// scenario).
    pub generator_cpu_us_per_connection: Option<f64>,
}

impl ConnectStats {
    /// The figures of an opening phase that opened `open` connections in
    /// `seconds`, with handshake times in `latency` (microseconds).
    pub fn new(open: usize, seconds: f64, latency: &Histogram<u64>) -> Self {
        Self {
            per_second: open as f64 / seconds.max(1e-9),
            seconds,
            time_ms: Percentiles::from_micros(latency),
            server_cpu_us_per_connection: None,
            generator_cpu_us_per_connection: None,
        }
    }
}

/// A presence storm: every connection subscribed at once to one channel
/// with presence.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PresenceStats {
    /// The channel.
    pub channel: String,
    /// Connections whose subscription was confirmed.
    pub subscribed: usize,
    /// Connections whose subscription was refused.
    pub refused: usize,
    /// Seconds from the storm's start until the last confirmation, when
    /// every connection was confirmed.
    pub all_subscribed_seconds: Option<f64>,
    /// Time from the storm's start to each confirmation, ms.
    pub subscribe_time_ms: Percentiles,
    /// Seconds from the storm's start to the last presence push received.
    pub settled_seconds: f64,
    /// Presence pushes received, all connections together.
    pub pushes: u64,
    /// Of which single joins (native `join`, Pusher `member_added`).
    pub join_pushes: u64,
    /// Of which batches (native `presence_diff`, Pusher's member list).
    pub batch_pushes: u64,
    /// Of which single leaves.
    pub leave_pushes: u64,
    /// The fewest and the most presence pushes one connection received.
    pub pushes_per_connection: [u64; 2],
    /// Presence pushes per connection, on average.
    pub mean_pushes_per_connection: f64,
    /// Member entries the pushes carried (a join is one, a batch as many
    /// as it lists).
    pub members_announced: u64,
    /// Bytes of presence pushes received.
    pub bytes: u64,
    /// Connections that saw their own user in a push.
    pub saw_own_join: usize,
    /// Server CPU per confirmed subscription (the pushes included), µs.
    pub server_cpu_us_per_subscription: Option<f64>,
}

/// Chat messages written with `message_send` and acknowledged once
/// committed to the server's store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChatStats {
    /// Channels written to.
    pub channels: usize,
    /// Messages sent.
    pub sent: u64,
    /// Acknowledged (stored).
    pub acked: u64,
    /// Refused with an error reply.
    pub refused: u64,
    /// Sent but not answered before the run ended.
    pub unanswered: u64,
    /// Acknowledged per second of writing.
    pub per_second: f64,
    /// From sending `message_send` to its acknowledgement, ms.
    pub ack_ms: Percentiles,
    /// Server CPU per acknowledged message, µs.
    pub server_cpu_us_per_message: Option<f64>,
    /// Statements the store's writer ran per write it answered over the
    /// run, from the server's own counters (`/metrics`).
    pub statements_per_message: Option<f64>,
    /// Writes per transaction (per fsync) over the run, from the same.
    pub messages_per_transaction: Option<f64>,
}

/// Live documents written while live queries watch them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DocsStats {
    /// Connections writing.
    pub writers: usize,
    /// Connections whose live query answered.
    pub watchers: usize,
    /// Writes sent.
    pub sent: u64,
    /// Acknowledged (committed).
    pub acked: u64,
    /// Refused with an error reply.
    pub refused: u64,
    /// Sent but not answered before the run ended.
    pub unanswered: u64,
    /// Acknowledged per second of writing.
    pub per_second: f64,
    /// From sending `doc_merge` to its acknowledgement, ms.
    pub ack_ms: Percentiles,
    /// `query_changed` pushes the watchers received.
    pub changes: u64,
    /// Documents added or updated in them.
    pub documents_seen: u64,
    /// From a write to the push that showed it to a watcher, ms.
    pub change_ms: Percentiles,
    /// Server CPU per acknowledged write, µs.
    pub server_cpu_us_per_write: Option<f64>,
}

/// Publications sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Publications {
    /// How they were sent: `http` or `ws`.
    pub via: String,
    /// The rate asked for, per second.
    pub target_rate: f64,
    /// Sent.
    pub sent: u64,
    /// Accepted by the server.
    pub accepted: u64,
    /// Refused, or lost in a failed request.
    pub failed: u64,
    /// Accepted per second of publishing.
    pub per_second: f64,
}

/// Deliveries received against those expected.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Deliveries {
    /// Accepted publications times their subscribers.
    pub expected: u64,
    /// Received.
    pub delivered: u64,
    /// Expected but not received, in percent.
    pub loss_percent: f64,
    /// Received per second, from the start of publishing to the end of
    /// the drain.
    pub per_second: f64,
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of a histogram in microseconds.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p95: ms(histogram.value_at_quantile(0.95)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        }
    }
}

/// Connections the server closed or that broke.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Disconnects {
    /// Closed with 4201 (a slow client, in Parley).
    pub slow_4201: u64,
    /// Closed with any other code, by code.
    pub other_codes: BTreeMap<String, u64>,
    /// Broke without a close frame.
    pub dropped: u64,
    /// Error replies received.
    pub error_replies: u64,
}

/// The server process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerStats {
    /// Its pid (the first, when several were measured).
    pub pid: u32,
    /// How many processes were measured and summed (the nodes of a
    /// cluster).
    pub processes: usize,
    /// CPU used in the measured window, in percent of one core.
    pub cpu_percent: f64,
    /// CPU per delivery, in microseconds.
    pub cpu_us_per_delivery: Option<f64>,
    /// The user-space part of `cpu_us_per_delivery`.
    pub user_us_per_delivery: Option<f64>,
    /// The kernel part of `cpu_us_per_delivery` (system calls, the
    /// loopback TCP path).
    pub system_us_per_delivery: Option<f64>,
    /// Resident memory before the connections opened, bytes.
    pub rss_before_bytes: Option<u64>,
    /// Resident memory at the end of the window, bytes.
    pub rss_after_bytes: u64,
    /// Resident memory per open connection, bytes.
    pub rss_per_connection_bytes: Option<f64>,
}

/// The machine the run shared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MachineStats {
    /// Cores.
    pub cores: usize,
    /// CPU every process used in the measured window, in percent of one
    /// core (at most `cores × 100`).
    pub busy_percent: f64,
    /// The part of `busy_percent` spent in interrupts and soft interrupts,
    /// charged to no process (on loopback, mostly the network path of the
    /// run's own traffic).
    pub interrupts_percent: f64,
    /// Interrupt time per delivery, in microseconds.
    pub interrupts_us_per_delivery: Option<f64>,
    /// The part of `busy_percent` used by neither the generator, nor the
    /// server, nor interrupts (other processes, when the machine is
    /// shared).
    pub others_percent: f64,
    /// The 1-minute load average when the window opened and when it
    /// closed.
    pub load_average: [f64; 2],
}

impl MachineStats {
    /// The machine's figures over `measured`, with `deliveries` in it, when
    /// /proc could be read.
    pub fn from_window(measured: &Measured, deliveries: u64) -> Option<Self> {
        let (before, after) = measured.machine?;
        let interrupts = measured.interrupts()?;
        Some(Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            busy_percent: percent_of_core(measured.machine_busy()?, measured.elapsed),
            interrupts_percent: percent_of_core(interrupts, measured.elapsed),
            interrupts_us_per_delivery: micros_per(interrupts, deliveries),
            others_percent: percent_of_core(measured.others_busy()?, measured.elapsed),
            load_average: [before.load[0], after.load[0]],
        })
    }
}

/// This process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GeneratorStats {
    /// CPU used in the measured window, in percent of one core.
    pub cpu_percent: f64,
    /// CPU per delivery, in microseconds.
    pub cpu_us_per_delivery: Option<f64>,
    /// The user-space part of `cpu_us_per_delivery`: the generator's own
    /// code (the rest is the kernel's, mostly the loopback TCP path).
    pub user_us_per_delivery: Option<f64>,
    /// The kernel part of `cpu_us_per_delivery`.
    pub system_us_per_delivery: Option<f64>,
    /// Seconds measured (publishing plus drain, or the hold).
    pub measured_seconds: f64,
    /// The open-file limit the generator ran with.
    pub open_files_limit: u64,
}

impl Disconnects {
    /// The disconnect counters of a tally.
    pub fn from_tally(tally: &Tally) -> Self {
        let snapshot = tally.snapshot();
        let other_codes = tally
            .close_codes()
            .into_iter()
            .filter(|(code, _)| *code != SLOW_CLIENT_CLOSE)
            .map(|(code, count)| (code.to_string(), count))
            .collect();
        Self {
            slow_4201: snapshot.slow_disconnects,
            other_codes,
            dropped: snapshot.dropped,
            error_replies: snapshot.error_replies,
        }
    }
}

impl Deliveries {
    /// The delivery figures of a snapshot over `measured`.
    pub fn from_snapshot(snapshot: &Snapshot, measured: &Measured) -> Self {
        let seconds = measured.elapsed.as_secs_f64();
        Self {
            expected: snapshot.expected,
            delivered: snapshot.delivered,
            loss_percent: snapshot.loss() * 100.0,
            per_second: if seconds > 0.0 {
                snapshot.delivered as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

impl ServerStats {
    /// The server figures of a window; `rss_before` is the memory before
    /// the connections opened, `connections` those open, `deliveries` the
    /// deliveries in the window.
    pub fn from_window(
        pid: Option<ServerPids>,
        measured: &Measured,
        rss_before: Option<u64>,
        connections: usize,
        deliveries: u64,
    ) -> Option<Self> {
        let (pid, (_, after)) = pid.zip(measured.server)?;
        let cpu = measured.server_cpu().unwrap_or_default();
        let split = measured.server_split().unwrap_or_default();
        let rss_per_connection_bytes = rss_before
            .filter(|_| connections > 0)
            .map(|before| after.rss_bytes.saturating_sub(before) as f64 / connections as f64);
        Some(Self {
            pid: pid.first(),
            processes: pid.as_slice().len(),
            cpu_percent: percent_of_core(cpu, measured.elapsed),
            cpu_us_per_delivery: micros_per(cpu, deliveries),
            user_us_per_delivery: micros_per(split.user, deliveries),
            system_us_per_delivery: micros_per(split.system, deliveries),
            rss_before_bytes: rss_before,
            rss_after_bytes: after.rss_bytes,
            rss_per_connection_bytes,
        })
    }
}

impl GeneratorStats {
    /// This process's figures over `measured`.
    pub fn from_window(measured: &Measured, deliveries: u64, open_files_limit: u64) -> Self {
        Self {
            cpu_percent: percent_of_core(measured.generator_cpu, measured.elapsed),
            cpu_us_per_delivery: micros_per(measured.generator_cpu, deliveries),
            user_us_per_delivery: micros_per(measured.generator_split.user, deliveries),
            system_us_per_delivery: micros_per(measured.generator_split.system, deliveries),
            measured_seconds: measured.elapsed.as_secs_f64(),
            open_files_limit,
        }
    }
}

impl Report {
    /// Records how opening went: `open` of `requested` connections, the
    /// `failed` ones, and the handshake times over `elapsed`.
    pub fn record_opening(
        &mut self,
        requested: usize,
        open: usize,
        failed: usize,
        elapsed: std::time::Duration,
        connect_latency: &Histogram<u64>,
    ) {
        self.connections.requested = requested;
        self.connections.open = open;
        self.connections.failed = failed;
        self.connect = Some(ConnectStats::new(
            open,
            elapsed.as_secs_f64(),
            connect_latency,
        ));
    }

    /// Writes the report as JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|error| format!("cannot encode the report: {error}"))?;
        std::fs::write(path, text + "\n")
            .map_err(|error| format!("cannot write {}: {error}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            scenario: "fanout".into(),
            protocol: "native".into(),
            url: "http://127.0.0.1:7070".into(),
            connections: Connections {
                requested: 10,
                open: 10,
                failed: 0,
            },
            deliveries: Some(Deliveries {
                expected: 100,
                delivered: 90,
                loss_percent: 10.0,
                per_second: 45.0,
            }),
            latency_ms: Some(Percentiles {
                count: 90,
                p50: 1.5,
                p95: 2.0,
                p99: 3.0,
                max: 4.0,
            }),
            ..Report::default()
        }
    }

    #[test]
    fn the_table_shows_the_figures() {
        let table = sample().table();
        assert!(table.contains("90 / 100 (loss 10.000%)"), "{table}");
        assert!(table.contains("p99 3.00 ms"), "{table}");
        assert!(
            table.contains("not measured (pass --server-pid)"),
            "{table}"
        );
    }

    #[test]
    fn the_json_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        sample().write_json(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["deliveries"]["delivered"], 90);
        assert_eq!(value["latency_ms"]["p99"], 3.0);
        assert_eq!(value["server"], serde_json::Value::Null);
    }

    #[test]
    fn percentiles_convert_microseconds() {
        let mut histogram = crate::metrics::latency_histogram();
        for us in 1..=1000 {
            histogram.record(us).unwrap();
        }
        let p = Percentiles::from_micros(&histogram);
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 0.5).abs() < 0.01, "{}", p.p50);
        assert!((p.max - 1.0).abs() < 0.01, "{}", p.max);
        assert_eq!(
            Percentiles::from_micros(&crate::metrics::latency_histogram()).count,
            0
        );
    }
}
