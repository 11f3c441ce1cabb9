//! The store's API for rooms and members, read markers and unread counts,
//! pins, threads and search. Writes go to the writer like every other
//! write (`room_commands.rs`); reads go to the pool.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, PublicationKind};

use crate::commands::Command;
use crate::room_commands::RoomCommand;
use crate::sql::{messages, pins, reads, rooms, search, uploads};
use crate::{
    MAX_LISTED_MEMBERS, MAX_PAGE_SIZE, MembersChange, MembersChanged, MessageId, NewRoom, Pin,
    PinChange, Pinned, ReadChange, ReadMark, Room, RoomCreated, RoomMember, RoomPage, RoomRole,
    RoomSummary, SearchPage, SearchQuery, Store, StoreError, StoredPublication, ThreadPage,
    UnreadCount,
};

/// The most channels [`Store::unread`] reports.
pub const MAX_UNREAD_CHANNELS: usize = 1000;

/// The most pins [`Store::pins`] lists.
pub const MAX_PINS: usize = 100;

impl Store {
    /// Creates a room with its members and appends `member_added`. For a
    /// direct room whose pair has one already, returns that room instead
    /// (`created: false`) and appends nothing. A group room's channel must
    /// not be a room yet.
    pub async fn create_room(&self, new: NewRoom) -> Result<RoomCreated, StoreError> {
        if new.members.is_empty() {
            return Err(StoreError::InvalidInput("a room needs members".into()));
        }
        self.submit(|reply| Command::Room(RoomCommand::Create { new, reply }))
            .await
    }

    /// Adds or removes members and appends `member_added` or
    /// `member_removed` naming those who changed. Refused for a direct room,
    /// and when nobody would change.
    pub async fn change_members(
        &self,
        change: MembersChange,
    ) -> Result<MembersChanged, StoreError> {
        if change.members.is_empty() {
            return Err(StoreError::InvalidInput("name at least one user".into()));
        }
        self.submit(|reply| Command::Room(RoomCommand::Members { change, reply }))
            .await
    }

    /// Appends an event whose payload the caller encoded (a room notice in
    /// a user's inbox channel, say) to the channel's stream.
    pub async fn append_event(
        &self,
        app: Arc<str>,
        channel: ChannelName,
        kind: PublicationKind,
        data: Bytes,
    ) -> Result<StoredPublication, StoreError> {
        self.submit(|reply| {
            Command::Room(RoomCommand::Notice {
                app,
                channel,
                kind,
                data,
                reply,
            })
        })
        .await
    }

    /// The room on this channel, if the channel is one.
    pub async fn room(&self, app: &str, channel: &ChannelName) -> Result<Option<Room>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        rooms::find(&mut connection, app, channel).await
    }

    /// A user's role in a room; `None` when they are not a member (or the
    /// channel is no room).
    pub async fn room_role(
        &self,
        app: &str,
        channel: &ChannelName,
        user: &str,
    ) -> Result<Option<RoomRole>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        rooms::role(&mut connection, app, channel, user).await
    }

    /// A room's members in the order they joined (at most
    /// [`MAX_LISTED_MEMBERS`]).
    pub async fn room_members(
        &self,
        app: &str,
        channel: &ChannelName,
    ) -> Result<Vec<RoomMember>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        rooms::members(&mut connection, app, channel, MAX_LISTED_MEMBERS).await
    }

    /// One page of a user's rooms, most recently active first, each with
    /// its members, last message and the user's unread counts. `after` is
    /// the `next` cursor of the previous page.
    pub async fn rooms_of(
        &self,
        app: &str,
        user: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RoomPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = after.map(parse_room_cursor).transpose()?;
        let mut connection = self.pool().acquire().await?;
        let connection = &mut *connection;
        let mut listed = rooms::of_user(connection, app, user, after, limit).await?;
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next = match listed.last() {
            Some(last) if more => Some(format!(
                "{}:{}",
                last.room.last_activity.as_millis(),
                last.room.channel
            )),
            _ => None,
        };
        let mut summaries = Vec::with_capacity(listed.len());
        for entry in listed {
            let channel = &entry.room.channel;
            let counts = reads::unread_in(connection, app, channel, user).await?;
            let mut last_message = rooms::last_message(connection, app, channel, user).await?;
            if let Some(message) = last_message.as_mut() {
                uploads::fill(connection, std::slice::from_mut(message)).await?;
            }
            summaries.push(RoomSummary {
                members: rooms::members(connection, app, channel, MAX_LISTED_MEMBERS).await?,
                member_count: rooms::member_count(connection, app, channel).await?,
                last_message,
                unread: counts.as_ref().map_or(0, |counts| counts.unread),
                mentions: counts.as_ref().map_or(0, |counts| counts.mentions),
                role: entry.role,
                room: entry.room,
            });
        }
        Ok(RoomPage {
            rooms: summaries,
            next,
        })
    }

    /// Moves a user's read marker (forward for `read_mark`, back for
    /// `mark_unread`), appending `read_updated` when the mark carries an
    /// encoder (receipts visible to the channel) and the marker moved.
    pub async fn mark_read(&self, mark: ReadMark) -> Result<ReadChange, StoreError> {
        self.submit(|reply| Command::Room(RoomCommand::Read { mark, reply }))
            .await
    }

    /// A user's unread counts in every channel where they have a read
    /// marker: their rooms (from joining), and channels they sent to or
    /// marked read. At most [`MAX_UNREAD_CHANNELS`].
    pub async fn unread(&self, app: &str, user: &str) -> Result<Vec<UnreadCount>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        reads::unread_of_user(&mut connection, app, user, MAX_UNREAD_CHANNELS).await
    }

    /// Pins or unpins a message of the channel (not a deleted one) and
    /// appends `message_pinned` or `message_unpinned` when that changed
    /// anything.
    pub async fn pin(&self, change: PinChange) -> Result<Pinned, StoreError> {
        self.submit(|reply| Command::Room(RoomCommand::Pin { change, reply }))
            .await
    }

    /// The channel's pinned messages, most recently pinned first (at most
    /// [`MAX_PINS`]; deleted messages are left out).
    pub async fn pins(&self, app: &str, channel: &ChannelName) -> Result<Vec<Pin>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        let mut pins = pins::pins(&mut connection, app, channel, MAX_PINS).await?;
        let mut messages = pins
            .iter()
            .map(|pin| pin.message.clone())
            .collect::<Vec<_>>();
        uploads::fill(&mut connection, &mut messages).await?;
        for (pin, message) in pins.iter_mut().zip(messages) {
            pin.message = message;
        }
        Ok(pins)
    }

    /// One page of the replies to a message, oldest first: the newest
    /// `limit`, or those before the reply `before`.
    pub async fn thread(
        &self,
        app: &str,
        parent: MessageId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<ThreadPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let connection = &mut *connection;
        let mut parent = messages::find(connection, app, parent)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        uploads::fill(connection, std::slice::from_mut(&mut parent)).await?;
        let before_offset = match before {
            None => u64::MAX,
            Some(id) => {
                messages::find(connection, app, id)
                    .await?
                    .filter(|reply| reply.reply_to == Some(parent.id))
                    .ok_or(StoreError::NotFound("reply"))?
                    .offset
            }
        };
        let mut replies = pins::replies(connection, app, &parent, before_offset, limit + 1).await?;
        let has_more = replies.len() > limit;
        replies.truncate(limit);
        replies.reverse();
        uploads::fill(connection, &mut replies).await?;
        Ok(ThreadPage {
            parent,
            replies,
            has_more,
        })
    }

    /// Full-text search over message text, newest first; never deleted
    /// messages. The caller checks that the user may read the scope.
    pub async fn search(&self, app: &str, query: SearchQuery) -> Result<SearchPage, StoreError> {
        if query.words.is_empty() {
            return Err(StoreError::InvalidInput("the query has no words".into()));
        }
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let mut messages =
            search::search(&mut connection, self.backend(), app, &query, limit + 1).await?;
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        uploads::fill(&mut connection, &mut messages).await?;
        Ok(SearchPage { messages, has_more })
    }
}

/// Reads a `next` cursor of [`Store::rooms_of`]: `<last_activity>:<channel>`.
fn parse_room_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    cursor
        .split_once(':')
        .and_then(|(time, channel)| Some((time.parse().ok()?, channel.to_owned())))
        .ok_or_else(|| StoreError::InvalidInput(format!("{cursor:?} is not a rooms cursor")))
}
