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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        }
    }

    /// Whether any app counts, so that the node needs this observer and
    /// the server a flush task.
    pub fn is_enabled(&self) -> bool {
        !self.apps.is_empty()
    }

    /// Pushes the count of every channel that changed, except large ones
    /// that heard theirs within [`LARGE_CHANNEL_INTERVAL`], which wait.
    pub fn flush(&self, now: Instant) {
        let due = self.throttle.take_due(now, |(app, channel)| {
            let large = self
                .apps
                .get(&**app)
                .is_some_and(|app| app.hub.subscriber_count(channel) > LARGE_CHANNEL);
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
            let count = app.hub.subscriber_count(&key.1);
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
        // Presence channels count members instead; a user's own
        // `#server-to-user-` channel has no audience to count.
        if !matches!(event, ChannelEvent::SubscriptionCount(_))
            || channel.as_str().starts_with("presence-")
            || channel.as_str().starts_with('#')
        {
            return;
        }
        if let Some(app) = self.apps.get(app) {
            self.throttle.mark((app.id.clone(), channel.clone()));
        }
    }
}
