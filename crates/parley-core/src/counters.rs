//! Process-wide counters of the hot path.
//!
//! A relaxed atomic add costs a few nanoseconds; a lookup in a metrics
//! registry per delivery would cost far more. The server exports these as
//! Prometheus counters when it is scraped.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of this process.
pub static COUNTERS: Counters = Counters::new();

/// Totals since the process started.
#[derive(Debug)]
pub struct Counters {
    /// Publications delivered to this node (from the broker or the store).
    pub publications: AtomicU64,
    /// Frames of publications queued for subscribers.
    pub deliveries: AtomicU64,
    /// Connections closed because their queue overflowed.
    pub slow_disconnects: AtomicU64,
    /// Bytes of text frames received from clients.
    pub bytes_in: AtomicU64,
    /// Bytes of text frames written to clients.
    pub bytes_out: AtomicU64,
}

impl Counters {
    const fn new() -> Self {
        Self {
            publications: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            slow_disconnects: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
