//! `ChannelObserver`: what a node tells the outside world about its
//! channels (occupied, vacated, subscription counts, presence members), for
//! webhooks. Optional: a node without one tells nobody.

use std::sync::Arc;

use crate::ChannelName;

/// Something that happened to a channel on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The channel got its first local subscriber.
    Occupied,
    /// The channel lost its last local subscriber.
    Vacated,
    /// The channel's local subscriber count changed to this.
    SubscriptionCount(usize),
    /// A user got their first presence lease in the channel.
    MemberAdded(Arc<str>),
    /// A user lost their last presence lease in the channel.
    MemberRemoved(Arc<str>),
}

/// Hears every [`ChannelEvent`] of a node, synchronously: implementations
/// must only queue the event (they are called under no lock, but on the
/// subscribing connection's task).
pub trait ChannelObserver: Send + Sync {
    /// `event` happened to `channel` of `app`.
    fn on_channel_event(&self, app: &str, channel: &ChannelName, event: ChannelEvent);
}

/// Several observers heard as one, in order, for a node that has more than
/// one party interested in its channel events (webhooks, Pusher's
/// subscription counts).
pub struct ObserverSet(pub Vec<Arc<dyn ChannelObserver>>);

impl ChannelObserver for ObserverSet {
    fn on_channel_event(&self, app: &str, channel: &ChannelName, event: ChannelEvent) {
        if let Some((last, others)) = self.0.split_last() {
            for observer in others {
                observer.on_channel_event(app, channel, event.clone());
            }
            last.on_channel_event(app, channel, event);
        }
    }
}
