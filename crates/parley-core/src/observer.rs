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
