//! Pinned messages, threads and search: requests and results.

use std::sync::Arc;

use parley_core::ChannelName;

use crate::rooms::EventEncoder;
use crate::{Message, MessageId, StoredPublication, Timestamp};

/// A pin or an unpin.
#[derive(Clone)]
pub struct PinChange {
    /// The app.
    pub app: Arc<str>,
    /// The channel the message must be in.
    pub channel: ChannelName,
    /// The message.
    pub message: MessageId,
    /// The user who acts (permission is the caller's to check).
    pub by: String,
    /// Pin (true) or unpin (false).
    pub pin: bool,
    /// The payload of the `message_pinned` or `message_unpinned` event.
    pub encode: EventEncoder<Pin>,
}

/// A pinned message, or one just unpinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The message as it is now.
    pub message: Message,
    /// Who pinned it, or unpinned it.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Whether it is pinned now.
    pub pinned: bool,
}

/// What a pin or unpin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The pin after the change.
    pub pin: Pin,
    /// The event; `None` when nothing changed (pinned twice, or unpinning a
    /// message that was not pinned).
    pub publication: Option<StoredPublication>,
}

/// One page of a thread: replies to one message, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    /// The message the thread answers.
    pub parent: Message,
    /// The replies, oldest first.
    pub replies: Vec<Message>,
    /// Whether older replies exist.
    pub has_more: bool,
}

/// Where a search looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// One channel (the caller checked that the user may read it).
    Channel(ChannelName),
    /// Every room the user is a member of.
    RoomsOf(String),
}

/// A full-text search over message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words to find; every word must occur.
    pub words: Vec<String>,
    /// Where to look.
    pub scope: SearchScope,
    /// Only messages older than this one (the previous page's last).
    pub before: Option<MessageId>,
    /// Messages per page, capped to `1..=MAX_PAGE_SIZE`.
    pub limit: usize,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// The matching messages, never deleted ones.
    pub messages: Vec<Message>,
    /// Whether older matches exist.
    pub has_more: bool,
}
