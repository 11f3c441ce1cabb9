//! Pushes: what the server sends to a channel's subscribers unasked.

use std::sync::Arc;

use crate::{ChannelName, Member, PresenceStats, Publication, Typer, UserStatus};

/// One push to the subscribers of a channel, in domain terms. A wire
/// protocol turns it into a frame once, and every subscriber speaking that
/// protocol gets the same bytes.
#[derive(Debug, Clone, Copy)]
pub enum Push<'a> {
    /// A publication with its stream position.
    Publication(&'a Publication),
    /// A user joined the channel's presence (their first connection).
    Join {
        /// The channel.
        channel: &'a ChannelName,
        /// The member who joined.
        member: &'a Member,
    },
    /// A user left the channel's presence (their last connection).
    Leave {
        /// The channel.
        channel: &'a ChannelName,
        /// The user who left.
        user: &'a str,
    },
    /// Many joins and leaves at once, batched during a storm.
    PresenceDiff {
        /// The channel.
        channel: &'a ChannelName,
        /// Members who joined, in the order they joined.
        joins: &'a [Member],
        /// Users who left.
        leaves: &'a [Arc<str>],
    },
    /// A member replaced their presence state.
    PresenceUpdate {
        /// The channel.
        channel: &'a ChannelName,
        /// The member with the new state.
        member: &'a Member,
    },
    /// The channel's presence counts changed (in namespaces that push them,
    /// throttled).
    PresenceStats {
        /// The channel.
        channel: &'a ChannelName,
        /// The counts now.
        stats: &'a PresenceStats,
    },
    /// The full list of users typing in the channel now.
    Typing {
        /// The channel.
        channel: &'a ChannelName,
        /// Everyone typing, oldest first.
        typers: &'a [Typer],
    },
    /// A user's status changed; sent on the user's status channels.
    UserStatus {
        /// The status channel.
        channel: &'a ChannelName,
        /// The new status.
        status: &'a UserStatus,
    },
}

impl Push<'_> {
    /// The channel the push goes to.
    pub fn channel(&self) -> &ChannelName {
        match self {
            Push::Publication(publication) => &publication.channel,
            Push::Join { channel, .. }
            | Push::Leave { channel, .. }
            | Push::PresenceDiff { channel, .. }
            | Push::PresenceUpdate { channel, .. }
            | Push::PresenceStats { channel, .. }
            | Push::Typing { channel, .. }
            | Push::UserStatus { channel, .. } => channel,
        }
    }
}
