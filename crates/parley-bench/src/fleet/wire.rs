//! The messages between the parent and its workers, one JSON object a
//! line: [`Command`]s on a worker's stdin, [`Line`]s on its stdout.
//!
//! A worker reports its counters as running totals ([`Counts`]); the
//! parent adds the difference from the previous report to its own tally.
//! Latency histograms travel as their non-empty buckets ([`Buckets`]), so
//! the parent's percentiles are those of every delivery, not averages of
//! the workers' percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::{Tally, latency_histogram};
use crate::procstat::CpuSplit;

/// What the parent tells a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Open your share of the connections, then read them until the end.
    Open {
        /// The subscriptions, if any.
        subscriptions: Option<Subscriptions>,
        /// Give up opening more after this many milliseconds.
        within_ms: u64,
    },
    /// The measured window opens: count your CPU time from now.
    Start,
    /// The measured window closes: report your totals.
    Stop,
}

/// The subscription layout, as the parent computed it for the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// Channels.
    pub channels: usize,
    /// Subscribers per channel.
    pub subscribers: usize,
    /// The channel names' prefix.
    pub prefix: String,
}

/// What a worker tells the parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum Line {
    /// Started and ready to open.
    Ready,
    /// The counters so far (ten times a second).
    Tick {
        /// Running totals.
        counts: Counts,
    },
    /// Opening is over.
    Opened {
        /// Running totals.
        counts: Counts,
        /// How it went.
        opened: OpenedShare,
    },
    /// The window closed: the final totals.
    Result {
        /// Running totals, with the full latency histogram.
        counts: Counts,
        /// The worker's CPU time in the window.
        cpu: Cpu,
    },
}

/// How opening one share went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenedShare {
    /// Connections open.
    pub open: usize,
    /// Connections that failed to open or subscribe.
    pub failed: usize,
    /// The share's connection indices that are not open (failed, or not
    /// tried before the deadline).
    pub missing: Vec<usize>,
    /// Seconds opening took.
    pub seconds: f64,
    /// Handshake times, µs.
    pub connect_latency: Buckets,
    /// CPU time the worker spent opening.
    pub cpu: Cpu,
}

/// A worker's running totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Connections opened so far.
    pub opened: usize,
    /// Connections that failed to open so far.
    pub open_failed: usize,
    /// Deliveries received.
    pub delivered: u64,
    /// Error replies received.
    pub error_replies: u64,
    /// Connections that broke without a close frame.
    pub dropped: u64,
    /// Closes by the server: `[code, count]` pairs (a list, as JSON
    /// objects have no number keys).
    pub closes: Vec<(u16, u64)>,
    /// Errors, by message.
    pub errors: BTreeMap<String, u64>,
    /// Every delivery's latency so far, µs, when this report carries it
    /// (once a second, and always in the final result).
    pub latency: Option<Buckets>,
}

impl Counts {
    /// The totals of `tally`, with its latency histogram if `latency`.
    pub fn of(tally: &Tally, opened: usize, open_failed: usize, latency: bool) -> Self {
        let snapshot = tally.snapshot();
        Self {
            opened,
            open_failed,
            delivered: snapshot.delivered,
            error_replies: snapshot.error_replies,
            dropped: snapshot.dropped,
            closes: tally.close_codes().into_iter().collect(),
            errors: tally.errors(),
            latency: latency.then(|| Buckets::of(&tally.latency())),
        }
    }

    /// Adds to `tally` what these totals hold beyond `earlier` (the same
    /// worker's previous report, whose histogram is `earlier_latency`),
    /// and returns this report's histogram when it carries one.
    pub fn absorb_into(
        &self,
        tally: &Tally,
        earlier: &Counts,
        earlier_latency: &Histogram<u64>,
    ) -> Result<Option<Histogram<u64>>, String> {
        let latency = self.latency.as_ref().map(Buckets::histogram).transpose()?;
        let new_latency = match &latency {
            Some(now) => {
                let mut new = now.clone();
                new.subtract(earlier_latency)
                    .map_err(|error| format!("a worker's latency histogram shrank: {error}"))?;
                Some(new)
            }
            None => None,
        };
        tally.absorb(
            self.delivered.saturating_sub(earlier.delivered),
            new_latency.as_ref(),
            self.error_replies.saturating_sub(earlier.error_replies),
            self.dropped.saturating_sub(earlier.dropped),
        );
        let earlier_closes: BTreeMap<u16, u64> = earlier.closes.iter().copied().collect();
        for &(code, count) in &self.closes {
            let before = earlier_closes.get(&code).copied().unwrap_or(0);
            if count > before {
                tally.closed_times(code, count - before);
            }
        }
        for (message, &count) in &self.errors {
            let before = earlier.errors.get(message).copied().unwrap_or(0);
            if count > before {
                tally.note_error_times(message, count - before);
            }
        }
        Ok(latency)
    }
}

/// The non-empty buckets of a latency histogram (made by
/// [`latency_histogram`]): `[value, count]` pairs, from which the same
/// histogram is rebuilt exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Buckets(pub Vec<[u64; 2]>);

impl Buckets {
    /// The buckets of `histogram`.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        Self(
            histogram
                .iter_recorded()
                .map(|bucket| [bucket.value_iterated_to(), bucket.count_at_value()])
                .collect(),
        )
    }

    /// The histogram again; a value out of its bounds is an error.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let mut histogram = latency_histogram();
        for &[value, count] in &self.0 {
            histogram
                .record_n(value, count)
                .map_err(|error| format!("latency bucket {value} out of bounds: {error:?}"))?;
        }
        Ok(histogram)
    }
}

/// CPU time, in nanoseconds, split as [`CpuSplit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// User time.
    pub user_ns: u64,
    /// System time.
    pub system_ns: u64,
}

impl From<CpuSplit> for Cpu {
    fn from(split: CpuSplit) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self {
            user_ns: nanos(split.user),
            system_ns: nanos(split.system),
        }
    }
}

impl From<Cpu> for CpuSplit {
    fn from(cpu: Cpu) -> Self {
        CpuSplit {
            user: Duration::from_nanos(cpu.user_ns),
            system: Duration::from_nanos(cpu.system_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_rebuild_the_histogram_exactly() {
        let mut histogram = latency_histogram();
        for micros in [1, 2, 999, 1_000, 1_234, 55_555, 3_600_000_000] {
            histogram.record_n(micros, micros % 7 + 1).unwrap();
        }
        let text = serde_json::to_string(&Buckets::of(&histogram)).unwrap();
        let again = serde_json::from_str::<Buckets>(&text)
            .unwrap()
            .histogram()
            .unwrap();
        assert_eq!(again, histogram);
        for quantile in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                again.value_at_quantile(quantile),
                histogram.value_at_quantile(quantile)
            );
        }
        assert!(Buckets(vec![[u64::MAX, 1]]).histogram().is_err());
    }

    #[test]
    fn two_workers_running_totals_add_up_in_the_parent() {
        let parent = Tally::new(2);
        let workers = [Tally::new(2), Tally::new(2)];
        let mut last = [Counts::default(), Counts::default()];
        let mut last_latency = [latency_histogram(), latency_histogram()];
        // Two rounds of reports from each worker: the parent adds only
        // what is new each time.
        for round in 0..2u64 {
            for (n, worker) in workers.iter().enumerate() {
                for delay_ms in 1..=10 {
                    worker
                        .shard(0)
                        .record_latency((delay_ms + 10 * n as u64) * 1_000_000);
                }
                worker.closed(4201);
                worker.note_error("open: refused");
                let counts = Counts::of(worker, 5, round as usize, true);
                let latency = counts
                    .absorb_into(&parent, &last[n], &last_latency[n])
                    .unwrap();
                last_latency[n] = latency.unwrap();
                last[n] = counts;
            }
        }
        let snapshot = parent.snapshot();
        assert_eq!(snapshot.delivered, 40);
        assert_eq!(snapshot.slow_disconnects, 4);
        assert_eq!(parent.errors()["open: refused"], 4);
        let latency = parent.latency();
        assert_eq!(latency.len(), 40);
        // 1..=20 ms, each twice: the maximum is 20 ms, the median 10 ms.
        assert_eq!(latency.max() / 1000, 20);
        assert_eq!(latency.value_at_quantile(0.5) / 1000, 10);
    }

    #[test]
    fn lines_and_commands_are_one_json_object_each() {
        let line = Line::Tick {
            counts: Counts {
                closes: vec![(4201, 3), (1000, 1)],
                errors: BTreeMap::from([("open: refused".to_owned(), 2)]),
                latency: Some(Buckets(vec![[1_000, 2]])),
                ..Counts::default()
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(!text.contains('\n'));
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line);
        let open = Command::Open {
            subscriptions: Some(Subscriptions {
                channels: 2,
                subscribers: 3,
                prefix: "bench:".into(),
            }),
            within_ms: 1_000,
        };
        let text = serde_json::to_string(&open).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), open);
        assert!(serde_json::from_str::<Command>(r#"{"command":"dance"}"#).is_err());
    }
}
