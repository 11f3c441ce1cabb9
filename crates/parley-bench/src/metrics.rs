//! Counting deliveries against expectations, and end-to-end latencies.
//!
//! Connections record into one of several [`Shard`]s (by connection index)
//! so that thousands of tasks do not contend on one lock. Publishers add to
//! the expected count only once the server has accepted a publication, so
//! `delivered / expected` is the fraction that arrived.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::payload;

/// The slowest latency the histograms hold, in microseconds (one hour).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The close code Parley sends to a client that fell too far behind (a
/// Pusher server uses the same code when a pong did not come).
pub const SLOW_CLIENT_CLOSE: u16 = 4201;

/// A new latency histogram in microseconds, three significant figures.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("the bounds are valid")
}

/// One shard of delivery counters, padded to its own cache lines.
#[repr(align(128))]
#[derive(Debug)]
pub struct Shard {
    delivered: AtomicU64,
    latency: Mutex<Histogram<u64>>,
}

impl Shard {
    fn new() -> Self {
        Self {
            delivered: AtomicU64::new(0),
            latency: Mutex::new(latency_histogram()),
        }
    }

    /// Records a received text frame if it carries a payload, taking its
    /// latency against the clock now. Returns whether it did.
    pub fn record_frame(&self, frame: &[u8]) -> bool {
        match payload::scan_timestamp(frame) {
            Some(sent) => {
                self.record_latency(payload::unix_nanos().saturating_sub(sent));
                true
            }
            None => false,
        }
    }

    /// Counts one delivery whose latency is not wanted: a replayed
    /// publication, whose age is the time its subscriber was away.
    pub fn count_delivery(&self) {
        self.delivered.fetch_add(1, Relaxed);
    }

    /// Records one delivery that took `nanos` from send to receipt.
    pub fn record_latency(&self, nanos: u64) {
        self.delivered.fetch_add(1, Relaxed);
        let micros = (nanos / 1_000).max(1);
        // A poisoned lock only means another task panicked mid-record; the
        // histogram is still usable.
        let mut latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        latency.saturating_record(micros);
    }
}

/// Every counter of a run, shared by all connections and publishers.
#[derive(Debug)]
pub struct Tally {
    shards: Box<[Shard]>,
    expected: AtomicU64,
    sent: AtomicU64,
    accepted: AtomicU64,
    failed: AtomicU64,
    error_replies: AtomicU64,
    dropped: AtomicU64,
    publishers: AtomicU64,
    closes: Mutex<BTreeMap<u16, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Counts one connection among the publishers until it is dropped. A run
/// waits for every publisher to stop before it drains: a connection that
/// was still sending when the run's deadline passed would otherwise add
/// publications after the drain had already seen every count settle.
#[derive(Debug)]
pub struct ActivePublisher(Arc<Tally>);

impl Drop for ActivePublisher {
    fn drop(&mut self) {
        // Ordered after the publisher's last `sent`: whoever sees the
        // count fall sees that too.
        self.0.publishers.fetch_sub(1, SeqCst);
    }
}

/// How many distinct error messages a run keeps (the rest are counted
/// under one line).
const MAX_ERROR_KINDS: usize = 20;

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Publications sent (frames written or carried by HTTP requests).
    pub sent: u64,
    /// Publications the server accepted.
    pub accepted: u64,
    /// Publications the server refused, or whose request failed.
    pub failed: u64,
    /// Deliveries the accepted publications should cause.
    pub expected: u64,
    /// Deliveries received.
    pub delivered: u64,
    /// Error replies received on WebSockets.
    pub error_replies: u64,
    /// Connections closed with the slow-client code 4201.
    pub slow_disconnects: u64,
    /// Connections closed by the server with any other code.
    pub other_closes: u64,
    /// Connections that broke without a close frame.
    pub dropped: u64,
}

impl Snapshot {
    /// The fraction of expected deliveries that did not arrive, from 0 to 1.
    pub fn loss(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.expected.saturating_sub(self.delivered) as f64 / self.expected as f64
    }

    /// Publications sent whose acceptance is not known yet.
    pub fn unanswered(&self) -> u64 {
        self.sent.saturating_sub(self.accepted + self.failed)
    }
}

impl Tally {
    /// A tally with `shards` latency shards (at least one).
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| Shard::new()).collect(),
            expected: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            publishers: AtomicU64::new(0),
            closes: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// A tally sharded for this machine's parallelism.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores * 4)
    }

    /// The shard for connection `index`.
    pub fn shard(&self, index: usize) -> &Shard {
        &self.shards[index % self.shards.len()]
    }

    /// Counts a connection as publishing until the guard is dropped.
    pub fn publisher(self: &Arc<Self>) -> ActivePublisher {
        self.publishers.fetch_add(1, SeqCst);
        ActivePublisher(self.clone())
    }

    /// Connections still publishing.
    pub fn publishers(&self) -> u64 {
        self.publishers.load(SeqCst)
    }

    /// Counts `count` publications as sent.
    pub fn sent(&self, count: u64) {
        self.sent.fetch_add(count, Relaxed);
    }

    /// Counts `count` publications as accepted, together expected to
    /// cause `deliveries` deliveries.
    pub fn accepted(&self, count: u64, deliveries: u64) {
        self.accepted.fetch_add(count, Relaxed);
        self.expected.fetch_add(deliveries, Relaxed);
    }

    /// Counts `count` publications as refused or lost in a failed request.
    pub fn failed(&self, count: u64) {
        self.failed.fetch_add(count, Relaxed);
    }

    /// Counts an error reply on a WebSocket.
    pub fn error_reply(&self) {
        self.error_replies.fetch_add(1, Relaxed);
    }

    /// Counts a close by the server with `code`.
    pub fn closed(&self, code: u16) {
        self.closed_times(code, 1);
    }

    /// Counts `times` closes by the server with `code`.
    pub fn closed_times(&self, code: u16, times: u64) {
        let mut closes = self
            .closes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *closes.entry(code).or_default() += times;
    }

    /// Counts a connection that broke without a close frame.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }

    /// Counts an error by its message, keeping a bounded number of
    /// distinct messages.
    pub fn note_error(&self, message: &str) {
        self.note_error_times(message, 1);
    }

    /// Counts `times` errors with one message, keeping a bounded number of
    /// distinct messages.
    pub fn note_error_times(&self, message: &str, times: u64) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = if errors.contains_key(message) || errors.len() < MAX_ERROR_KINDS {
            message
        } else {
            "(other errors)"
        };
        *errors.entry(key.to_owned()).or_default() += times;
    }

    /// Adds what another process's tally counted (a worker's, see
    /// [`crate::fleet`]): `delivered` deliveries, the latencies recorded
    /// for them, error replies and dropped connections.
    pub fn absorb(
        &self,
        delivered: u64,
        latency: Option<&Histogram<u64>>,
        error_replies: u64,
        dropped: u64,
    ) {
        let shard = &self.shards[0];
        shard.delivered.fetch_add(delivered, Relaxed);
        if let Some(latency) = latency {
            let mut merged = shard
                .latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Made by `latency_histogram` on both sides: adding cannot
            // fail.
            let _ = merged.add(latency);
        }
        self.error_replies.fetch_add(error_replies, Relaxed);
        self.dropped.fetch_add(dropped, Relaxed);
    }

    /// Error messages seen, with their counts.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Close codes received, with their counts.
    pub fn close_codes(&self) -> BTreeMap<u16, u64> {
        self.closes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every counter now.
    pub fn snapshot(&self) -> Snapshot {
        let closes = self.close_codes();
        let slow = closes.get(&SLOW_CLIENT_CLOSE).copied().unwrap_or(0);
        let all: u64 = closes.values().sum();
        Snapshot {
            sent: self.sent.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
            failed: self.failed.load(Relaxed),
            expected: self.expected.load(Relaxed),
            delivered: self.shards.iter().map(|s| s.delivered.load(Relaxed)).sum(),
            error_replies: self.error_replies.load(Relaxed),
            slow_disconnects: slow,
            other_closes: all - slow,
            dropped: self.dropped.load(Relaxed),
        }
    }

    /// The latencies of every delivery so far, merged.
    pub fn latency(&self) -> Histogram<u64> {
        let mut merged = latency_histogram();
        for shard in &self.shards {
            let latency = shard
                .latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Same bounds on both sides: adding cannot fail.
            let _ = merged.add(&*latency);
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(sent: u64, seq: u64) -> String {
        format!(
            r#"{{"push":"publication","channel":"bench:0","data":{},"offset":{seq},"epoch":"e"}}"#,
            payload::build(sent, seq, 100)
        )
    }

    #[test]
    fn a_stream_dropping_every_tenth_message_reports_ten_percent_loss() {
        let tally = Tally::new(4);
        let now = payload::unix_nanos();
        for seq in 0..1000u64 {
            tally.sent(1);
            tally.accepted(1, 1);
            if seq % 10 != 9 {
                let frame = push(now - 5_000_000, seq);
                assert!(tally.shard(seq as usize).record_frame(frame.as_bytes()));
            }
        }
        let snapshot = tally.snapshot();
        assert_eq!(snapshot.expected, 1000);
        assert_eq!(snapshot.delivered, 900);
        assert!((snapshot.loss() - 0.1).abs() < 1e-12, "{}", snapshot.loss());
        assert_eq!(tally.latency().len(), 900);
    }

    #[test]
    fn fanout_multiplies_the_expectation_and_latencies_are_measured() {
        let tally = Tally::new(2);
        tally.sent(3);
        tally.accepted(2, 20);
        tally.failed(1);
        for delay_ms in 1..=20u64 {
            tally
                .shard(delay_ms as usize)
                .record_latency(delay_ms * 1_000_000);
        }
        let snapshot = tally.snapshot();
        assert_eq!(snapshot.expected, 20);
        assert_eq!(snapshot.delivered, 20);
        assert_eq!(snapshot.loss(), 0.0);
        assert_eq!(snapshot.unanswered(), 0);
        let latency = tally.latency();
        // 1..=20 ms: the median is 10 ms, the maximum 20 ms (to 3 figures).
        assert_eq!(latency.value_at_quantile(0.5) / 1000, 10);
        assert_eq!(latency.max() / 1000, 20);
    }

    #[test]
    fn control_frames_are_not_deliveries() {
        let tally = Tally::new(1);
        assert!(
            !tally
                .shard(0)
                .record_frame(br#"{"id":4,"result":{"offset":1,"epoch":"e"}}"#)
        );
        assert_eq!(tally.snapshot().delivered, 0);
    }

    #[test]
    fn error_messages_are_bounded() {
        let tally = Tally::new(1);
        for kind in 0..(MAX_ERROR_KINDS + 5) {
            tally.note_error(&format!("error {kind}"));
        }
        tally.note_error("error 0");
        let errors = tally.errors();
        assert_eq!(errors.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(errors["error 0"], 2);
        assert_eq!(errors["(other errors)"], 5);
    }

    #[test]
    fn close_codes_split_slow_clients_from_the_rest() {
        let tally = Tally::new(1);
        tally.closed(SLOW_CLIENT_CLOSE);
        tally.closed(SLOW_CLIENT_CLOSE);
        tally.closed(4200);
        tally.dropped();
        let snapshot = tally.snapshot();
        assert_eq!(
            (
                snapshot.slow_disconnects,
                snapshot.other_closes,
                snapshot.dropped
            ),
            (2, 1, 1)
        );
    }
}
