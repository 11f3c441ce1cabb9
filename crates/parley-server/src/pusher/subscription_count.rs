//! `pusher_internal:subscription_count`: in apps with
//! `enable_subscription_count`, the subscribers of a channel (presence
//! channels excepted, as with Pusher, and `#server-to-user-` ones) hear its
//! subscriber count when it changes; pusher-js keeps it as `channel.subscriptionCount` and emits
//! `pusher:subscription_count`.
//!
//! The node reports count changes through its [`ChannelObserver`], which
//! only marks the channel in a [`Throttle`] (the one live presence counts
//! use); [`SubscriptionCounts::flush`], run every [`FLUSH_INTERVAL`] by a
//! server task, pushes the count as it is then to the channel's Pusher
//! subscribers. Deferring does two things: a new
//! subscriber hears `subscription_succeeded` first (the observer is called
//! inside `Node::subscribe`, before the session answers), and a burst of
//! subscriptions costs one push per subscriber per window instead of one
//! per change (N² on a mass reconnect). Channels with more than
//! [`LARGE_CHANNEL`] subscribers hear it at most every
//! [`LARGE_CHANNEL_INTERVAL`], as Pusher throttles them.
//!
//! With several nodes the count is the deployment's: each node's counts go
//! to Redis (`cluster/occupancy.rs`), and the new totals reach every node
//! ([`SubscriptionCounts::set_totals`]), which pushes them to its own
//! subscribers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use parley_core::{App, ChannelEvent, ChannelName, ChannelObserver, EncoderId, Throttle};
use serde::Serialize;

use super::push::internal_event;

/// How often changed counts are pushed.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Past this many subscribers a channel's count is throttled.
pub const LARGE_CHANNEL: usize = 100;
/// How often a large channel hears its count at most.
pub const LARGE_CHANNEL_INTERVAL: Duration = Duration::from_secs(5);

/// An app's channel.
type ChannelKey = (Arc<str>, ChannelName);

/// The subscription counts owed to Pusher subscribers.
pub struct SubscriptionCounts {
    /// The apps that enabled subscription counting, by id.
    apps: HashMap<String, Arc<App>>,
    /// The Pusher encoder: only its connections hear the count.
    pusher: EncoderId,
    /// Channels whose count changed since they last heard it, and when
    /// they did.
    throttle: Throttle<ChannelKey>,
    /// With several nodes: the deployment's count of each channel with
    /// subscribers, as the last totals said (none: this node's count).
    totals: Mutex<HashMap<ChannelKey, usize>>,
}

#[derive(Serialize)]
struct CountData {
    subscription_count: usize,
}

impl SubscriptionCounts {
    /// Counts for `apps`, the apps that enabled subscription counting, owed
    /// to the connections of the `pusher` encoder.
    pub fn new(apps: impl IntoIterator<Item = Arc<App>>, pusher: EncoderId) -> Self {
        Self {
            apps: apps
                .into_iter()
                .map(|app| (app.id.to_string(), app))
                .collect(),
            pusher,
            throttle: Throttle::new(),
            totals: Mutex::default(),
        }
    }

    /// Whether `app` counts subscriptions.
    pub fn counts(&self, app: &str) -> bool {
        self.apps.contains_key(app)
    }

    /// Takes the deployment's subscriber counts of channels of `app` (from
    /// the cluster's occupancy) and owes them to the channels' subscribers
    /// here.
    pub fn set_totals(&self, app: &str, counts: &[(String, u64)]) {
        let Some(app) = self.apps.get(app) else {
            return;
        };
        let mut changed = Vec::with_capacity(counts.len());
        {
            let mut totals = self.totals.lock();
            for (channel, total) in counts {
                let Ok(channel) = ChannelName::new(channel) else {
                    continue;
                };
                if !counted(&channel) {
                    continue;
                }
                let key = (app.id.clone(), channel);
                if *total == 0 {
                    totals.remove(&key);
                } else {
                    totals.insert(key.clone(), usize::try_from(*total).unwrap_or(usize::MAX));
                }
                changed.push(key);
            }
        }
        // Marked after the totals' lock is released: the throttle's lock
        // is held while `flush` reads the totals.
        for key in changed {
            self.throttle.mark(key);
        }
    }

    /// A channel's count: the deployment's when known, else this node's.
    fn count(&self, app: &App, key: &ChannelKey) -> usize {
        self.totals
            .lock()
            .get(key)
            .copied()
            .unwrap_or_else(|| app.hub.subscriber_count(&key.1))
    }

    /// Whether any app counts, so that the node needs this observer and
    /// the server a flush task.
    pub fn is_enabled(&self) -> bool {
        !self.apps.is_empty()
    }

    /// Pushes the count of every channel that changed, except large ones
    /// that heard theirs within [`LARGE_CHANNEL_INTERVAL`], which wait.
    pub fn flush(&self, now: Instant) {
        let due = self.throttle.take_due(now, |key| {
            let large = self
                .apps
                .get(&*key.0)
                .is_some_and(|app| self.count(app, key) > LARGE_CHANNEL);
            if large {
                LARGE_CHANNEL_INTERVAL
            } else {
                Duration::ZERO
            }
        });
        for key in due {
            let Some(app) = self.apps.get(&*key.0) else {
                continue;
            };
            let count = self.count(app, &key);
            if count == 0 {
                continue;
            }
            let frame = internal_event(
                "pusher_internal:subscription_count",
                Some(key.1.as_str()),
                &CountData {
                    subscription_count: count,
                },
            );
            for client in app.hub.subscribers(&key.1) {
                if client.encoder().id() == self.pusher {
                    // A refused push means the connection is closing.
                    let _ = client.send(frame.clone());
                }
            }
        }
    }
}

impl ChannelObserver for SubscriptionCounts {
    fn on_channel_event(&self, app: &str, channel: &ChannelName, event: ChannelEvent) {
        if !matches!(event, ChannelEvent::SubscriptionCount(_)) || !counted(channel) {
            return;
        }
        if let Some(app) = self.apps.get(app) {
            self.throttle.mark((app.id.clone(), channel.clone()));
        }
    }
}

/// Whether a channel's subscribers hear its count: presence channels count
/// members instead; a user's own `#server-to-user-` channel has no
/// audience to count.
fn counted(channel: &ChannelName) -> bool {
    !channel.as_str().starts_with("presence-") && !channel.as_str().starts_with('#')
}
