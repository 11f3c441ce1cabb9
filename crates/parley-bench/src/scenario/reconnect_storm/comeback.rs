//! What one client saw: of each storm, and over the run.

use std::time::Duration;

/// What one client saw of one storm. Times are from the drop.
#[derive(Debug, Clone, Default)]
pub struct Comeback {
    /// Whether the client was connected when the storm began.
    pub took_part: bool,
    /// Its wait before reconnecting (its share of the spread).
    pub waited: Duration,
    /// Until its protocol handshake was done again.
    pub reconnected: Option<Duration>,
    /// Until its subscription was confirmed again.
    pub resubscribed: Option<Duration>,
    /// The `recovered` of the subscribe reply (native only).
    pub recovered: Option<bool>,
    /// Until it had received every publication it missed, without a gap
    /// (native, when recovered).
    pub caught_up: Option<Duration>,
    /// Publications replayed to it.
    pub replayed: u64,
    /// Publications it missed and was not given (`recovered: false`).
    pub unrecovered: u64,
    /// Offsets missing from the drop until the next storm (or the end).
    pub gaps: u64,
    /// Failed reconnect attempts.
    pub connect_failures: u64,
    /// Whether it gave up at the storm's time limit.
    pub gave_up: bool,
}

/// What one client saw over the run.
#[derive(Debug, Default)]
pub struct Record {
    /// One per storm.
    pub comebacks: Vec<Comeback>,
    /// Offsets missing before the first storm.
    pub gaps_before: u64,
    /// Publications received twice.
    pub duplicates: u64,
    /// Epoch changes seen within a subscription.
    pub new_epochs: u64,
    /// Connections the server closed, or that broke, outside the storms.
    pub unplanned: u64,
}
