//! Read markers, unread counts and mentions: the markers and counts (the
//! projection), the `read_updated` event of visible receipts, and what
//! sending a message adds to them.
//!
//! Every channel keeps a running count of its messages (`message_count` on
//! its stream); every message remembers the count it brought the channel
//! to (its `seq`). A user's read marker keeps the count they have seen, so
//! their unread count is one subtraction, and a new message costs one
//! counter update however many members the channel has.

use std::sync::Arc;

use parley_core::{ChannelName, EventKind};
use sqlx::AnyConnection;

use crate::commands::{Change, Context};
use crate::event::{self, Encoded, EventEncoder};
use crate::sql::reads::{self, Marker};
use crate::sql::{self, messages, rooms};
use crate::{Message, MessageId, NewMessage, Store, StoreError, StoredPublication, Timestamp};

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

impl ReadMarker {
    /// The kind of the event of a read marker moved, when receipts are
    /// visible to the channel; its data is the marker.
    pub const UPDATED: EventKind = EventKind::new("read_updated");
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

/// The most channels [`Store::unread`] reports.
pub const MAX_UNREAD_CHANNELS: usize = 1000;

impl Store {
    /// Moves a user's read marker (forward for `read_mark`, back for
    /// `mark_unread`), appending `read_updated` when the mark carries an
    /// encoder (receipts visible to the channel) and the marker moved.
    pub async fn mark_read(&self, mark: ReadMark) -> Result<ReadChange, StoreError> {
        self.change(mark).await
    }

    /// A user's unread counts in every channel where they have a read
    /// marker: their rooms (from joining), and channels they sent to or
    /// marked read. At most [`MAX_UNREAD_CHANNELS`].
    pub async fn unread(&self, app: &str, user: &str) -> Result<Vec<UnreadCount>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        reads::unread_of_user(&mut connection, app, user, MAX_UNREAD_CHANNELS).await
    }
}

impl Change for ReadMark {
    type Outcome = ReadChange;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<ReadChange, StoreError> {
        let app = &*self.app;
        let channel = &self.channel;
        let message = messages::find(connection, app, self.message)
            .await?
            .filter(|message| message.channel == *channel)
            .ok_or(StoreError::NotFound("message"))?;
        let seq = message_seq(connection, &message).await?;
        let current = reads::marker(connection, app, channel, &self.user).await?;
        let target = match self.direction {
            ReadDirection::Forward => Marker {
                seen: seq,
                last_read_offset: message.offset,
            },
            ReadDirection::Back => Marker {
                seen: seq.saturating_sub(1),
                last_read_offset: message.offset.saturating_sub(1),
            },
        };
        let moves = match (current, self.direction) {
            (None, _) => true,
            (Some(current), ReadDirection::Forward) => target.seen > current.seen,
            (Some(current), ReadDirection::Back) => target.seen < current.seen,
        };
        let marker = if moves {
            reads::set_marker(connection, app, channel, &self.user, target, context.now).await?;
            target
        } else {
            current.unwrap_or(target)
        };
        let count = reads::message_count(connection, app, channel).await?;
        let marker = ReadMarker {
            channel: channel.clone(),
            user: self.user.clone(),
            last_read_offset: marker.last_read_offset,
            unread: count.saturating_sub(marker.seen),
            updated_at: context.now,
        };
        let publication = match (&self.encode, moves) {
            (Some(encode), true) => {
                let event = Encoded {
                    kind: ReadMarker::UPDATED,
                    value: &marker,
                    encode,
                };
                Some(event::record(connection, context, app, channel, &event).await?)
            }
            _ => None,
        };
        Ok(ReadChange {
            marker,
            moved: moves,
            publication,
        })
    }

    fn appended(outcome: &ReadChange) -> Option<&StoredPublication> {
        outcome.publication.as_ref()
    }
}

/// A message's `seq`: its place among the channel's messages.
async fn message_seq(connection: &mut AnyConnection, message: &Message) -> Result<u64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT seq FROM messages WHERE id = $1")
        .bind(message.id.get())
        .fetch_one(&mut *connection)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0))
}

/// What sending a message adds besides its row and its event: the author's
/// read marker (their own message is read, up to its `seq`, which
/// [`streams::advance_counting`](crate::sql::streams::advance_counting) took
/// with the offset) and, in a room, the room's activity. A shadow message
/// (for its author's eyes only) does not touch the room; it was not counted
/// either, so no one else's unread count moves.
pub(crate) async fn mark_sent(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    new: &NewMessage,
    seq: u64,
    offset: u64,
) -> Result<(), StoreError> {
    let marker = Marker {
        seen: seq,
        last_read_offset: offset,
    };
    reads::set_marker(
        connection,
        &new.app,
        &new.channel,
        &new.author,
        marker,
        context.now,
    )
    .await?;
    if new.room && !new.shadow {
        // `sql::rooms` does not count its statements; this one is on every
        // room message's path, so it is counted here.
        sql::counted();
        rooms::touch(connection, &new.app, &new.channel, context.now).await?;
    }
    Ok(())
}

/// Records the mentions of a message just inserted with `seq`.
pub(crate) async fn record_mentions(
    connection: &mut AnyConnection,
    message: &Message,
    app: &str,
    seq: u64,
) -> Result<(), StoreError> {
    reads::add_mentions(
        connection,
        app,
        &message.channel,
        message.id,
        seq,
        &message.mentions,
    )
    .await
}
