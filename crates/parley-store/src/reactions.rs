//! Reactions: one emoji from one user on a message or on a channel itself,
//! unique per (user, target, emoji), and their counts.

use std::sync::Arc;

use parley_core::ChannelName;

use crate::{MessageId, StoredPublication};

/// What a reaction is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactionTarget {
    /// A chat message.
    Message(MessageId),
    /// A channel itself: a page being read, a match being watched.
    Channel(ChannelName),
}

/// Adding or removing one user's reaction.
#[derive(Debug, Clone)]
pub struct ReactionChange {
    /// The app.
    pub app: Arc<str>,
    /// The message or channel reacted to.
    pub target: ReactionTarget,
    /// The reacting user.
    pub user: String,
    /// The emoji, validated by the caller.
    pub emoji: String,
    /// Whether the reaction is added (or removed).
    pub add: bool,
    /// The user is shadow-muted: the event is for the user's eyes only
    /// (the reaction still counts).
    pub shadow: bool,
}

/// A reaction event as it is stored in the channel's stream and delivered:
/// what changed and the emoji's count after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionEvent {
    /// The channel whose stream carries the event.
    pub channel: ChannelName,
    /// The message, for a reaction to a message.
    pub message_id: Option<MessageId>,
    /// The user who reacted or took the reaction back.
    pub user: String,
    /// The emoji.
    pub emoji: String,
    /// How many users react with this emoji to the target now.
    pub count: u64,
}

/// What a [`ReactionChange`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reacted {
    /// The event, with the emoji's count after the change.
    pub event: ReactionEvent,
    /// The `reaction_added` or `reaction_removed` publication, or `None`
    /// when nothing changed (adding a reaction the user already has, or
    /// removing one they do not have).
    pub publication: Option<StoredPublication>,
}

/// One emoji's count on a target, relative to a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many users react with it.
    pub count: u64,
    /// Whether the reader is one of them.
    pub me: bool,
}
