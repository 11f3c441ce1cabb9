//! `LiveCounts`: the `presence_stats` pushes of namespaces with
//! `presence_stats_interval`, so a viewer count stays live without every
//! client polling, and without a push per join.
//!
//! Every lease added or removed in such a channel marks it in a
//! [`Throttle`]; [`Node::push_presence_stats`](crate::Node), run with the
//! presence sweep, reads the counts of the channels that are due and pushes
//! them when they differ from the last push. A burst of arrivals costs one
//! push per interval, and the push after the last arrival is exact: it
//! reads the counts after it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::{ChannelName, PresenceStats, Throttle};

/// An app's channel.
pub(crate) type ChannelKey = (Arc<str>, ChannelName);

/// The counts owed to channels, and the last ones pushed.
#[derive(Default)]
pub(crate) struct LiveCounts {
    /// Channels whose counts may have changed.
    pub(crate) throttle: Throttle<ChannelKey>,
    /// The counts last pushed per channel, so that a change undone before
    /// the flush (or a lease merely renewed) pushes nothing. A channel
    /// whose presence emptied is forgotten.
    sent: Mutex<HashMap<ChannelKey, PresenceStats>>,
}

impl LiveCounts {
    /// Records `stats` as what `key` should hear; false when it heard them
    /// already.
    pub(crate) fn differs(&self, key: &ChannelKey, stats: PresenceStats) -> bool {
        let mut sent = self.sent.lock();
        let empty = stats == PresenceStats::default();
        let changed = sent.get(key).copied().unwrap_or_default() != stats;
        if empty {
            sent.remove(key);
        } else if changed {
            sent.insert(key.clone(), stats);
        }
        changed
    }
}
