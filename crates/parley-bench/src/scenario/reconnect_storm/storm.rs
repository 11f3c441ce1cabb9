//! What the clients of a run share: the protocol client, the counters,
//! and for each storm the signal that starts it and the counts the
//! progress line and the end-of-storm check read.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::spread::Spread;
use crate::metrics::Tally;
use crate::protocol::Client;

/// What every client of the run shares.
#[derive(Debug)]
pub struct Shared {
    /// The protocol client.
    pub client: Arc<Client>,
    /// The run's counters (publications, deliveries, closes, errors).
    pub tally: Arc<Tally>,
    /// One signal per storm, in order.
    pub storms: Box<[StormSignal]>,
    /// How long each client waits after a drop.
    pub spread: Spread,
    /// The longest one storm may take, from the drop.
    pub limit: Duration,
    /// Cancelled at the end of the run: clients close.
    pub end: CancellationToken,
    /// Clients whose first subscription was confirmed.
    pub subscribed: AtomicUsize,
    /// Clients whose first subscription failed.
    pub unsubscribed: AtomicUsize,
    /// Clients still running.
    pub alive: AtomicUsize,
}

/// The start of one storm, and its counters, which the progress line
/// and the end-of-storm check read.
#[derive(Debug, Default)]
pub struct StormSignal {
    /// Cancelled to make every client drop its connection.
    pub drop: CancellationToken,
    /// When the drop was signalled, set before `drop` is cancelled.
    pub at: OnceLock<Instant>,
    /// Clients reconnected (protocol handshake done).
    pub reconnected: AtomicUsize,
    /// Clients subscribed again.
    pub resubscribed: AtomicUsize,
    /// Clients that received everything they missed.
    pub recovered: AtomicUsize,
    /// Clients the server answered `recovered: false`, or whose replay
    /// had a gap.
    pub not_recovered: AtomicUsize,
    /// Clients that gave up at the storm's time limit.
    pub gave_up: AtomicUsize,
    /// Clients done with this storm, whichever way.
    pub settled: AtomicUsize,
    /// Failed reconnect attempts.
    pub connect_failures: AtomicU64,
    /// Publications replayed.
    pub replayed: AtomicU64,
}
