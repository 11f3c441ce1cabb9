//! Read markers, unread counts and mentions.
//!
//! Every channel keeps a running count of its messages (`message_count` on
//! its stream); every message remembers the count it brought the channel
//! to (its `seq`). A user's read marker keeps the count they have seen, so
//! their unread count is one subtraction, and a new message costs one
//! counter update however many members the channel has.

use std::sync::Arc;

use parley_core::ChannelName;

use crate::rooms::EventEncoder;
use crate::{MessageId, StoredPublication, Timestamp};

/// Which way a read marker may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDirection {
    /// `read_mark`: up to and including the message, never backwards.
    Forward,
    /// `mark_unread`: the message and everything after it unread again,
    /// never forwards.
    Back,
}

/// A move of a user's read marker.
#[derive(Clone)]
pub struct ReadMark {
    /// The app.
    pub app: Arc<str>,
    /// The channel.
    pub channel: ChannelName,
    /// The reader.
    pub user: String,
    /// The message the marker moves to.
    pub message: MessageId,
    /// Which way it may move.
    pub direction: ReadDirection,
    /// The payload of a `read_updated` event, when receipts are visible to
    /// the channel; `None` keeps the move private.
    pub encode: Option<EventEncoder<ReadMarker>>,
}

/// A user's read marker in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMarker {
    /// The channel.
    pub channel: ChannelName,
    /// The reader.
    pub user: String,
    /// Everything up to this offset is read.
    pub last_read_offset: u64,
    /// Messages of the channel not yet read.
    pub unread: u64,
    /// When the marker last moved.
    pub updated_at: Timestamp,
}

/// What moving a read marker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadChange {
    /// The marker after the move (unchanged when it would have moved the
    /// wrong way).
    pub marker: ReadMarker,
    /// Whether it moved.
    pub moved: bool,
    /// The `read_updated` event, when receipts are visible and it moved.
    pub publication: Option<StoredPublication>,
}

/// A user's unread messages in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadCount {
    /// The channel.
    pub channel: ChannelName,
    /// Messages not yet read.
    pub unread: u64,
    /// Of those, the ones that mention the user.
    pub mentions: u64,
    /// Everything up to this offset is read.
    pub last_read_offset: u64,
}
