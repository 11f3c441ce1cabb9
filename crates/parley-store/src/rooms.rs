//! Rooms: channels of members-only namespaces, their members and roles;
//! the requests and pages about them, the membership events
//! (`member_added`, `member_removed`) and the writes that append them with
//! their projection (the room and member rows, the new members' read
//! markers).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use parley_core::{ChannelName, EventKind};
use sqlx::AnyConnection;

use crate::commands::{Change, Context};
use crate::event::{self, Encoded, EventEncoder, Turn};
use crate::sql::reads::Marker;
use crate::sql::{reads, rooms, uploads};
use crate::{MAX_PAGE_SIZE, Message, Store, StoreError, StoredPublication, Timestamp};

/// What kind of room a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomKind {
    /// Exactly two users; one room per pair in a namespace.
    Direct,
    /// Any number of members with roles.
    Group,
}

impl RoomKind {
    /// The kind's name: `direct` or `group`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

impl FromStr for RoomKind {
    type Err = StoreError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "direct" => Ok(Self::Direct),
            "group" => Ok(Self::Group),
            other => Err(StoreError::InvalidInput(format!(
                "room kind {other:?} is not direct or group"
            ))),
        }
    }
}

/// A member's role in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomRole {
    /// A member: reads and sends.
    Member,
    /// Adds and removes members, pins messages.
    Moderator,
    /// Created the room; everything a moderator does.
    Owner,
}

impl RoomRole {
    /// The role's name: `owner`, `moderator` or `member`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Moderator => "moderator",
            Self::Member => "member",
        }
    }

    /// Whether the role moderates the room: owners and moderators.
    pub fn moderates(self) -> bool {
        self >= Self::Moderator
    }
}

impl fmt::Display for RoomRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoomRole {
    type Err = StoreError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "owner" => Ok(Self::Owner),
            "moderator" => Ok(Self::Moderator),
            "member" => Ok(Self::Member),
            other => Err(StoreError::InvalidInput(format!(
                "role {other:?} is not owner, moderator or member"
            ))),
        }
    }
}

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room's channel.
    pub channel: ChannelName,
    /// Direct or group.
    pub kind: RoomKind,
    /// The user who created it (`system` from the server API).
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its last message was sent (its creation time before that).
    pub last_activity: Timestamp,
}

/// One member of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The member's user id.
    pub user: String,
    /// Their role.
    pub role: RoomRole,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// What a membership event says: the room, the members it is about, and
/// who acted. The server turns it into the event's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembersEvent {
    /// The room.
    pub room: Room,
    /// The members added or removed.
    pub members: Vec<RoomMember>,
    /// The user who acted.
    pub by: String,
}

impl MembersEvent {
    /// The kind of the event of members added (or of a room created with
    /// them); its data names the room and them.
    pub const ADDED: EventKind = EventKind::new("member_added");
    /// The kind of the event of members removed; its data names the room
    /// and them.
    pub const REMOVED: EventKind = EventKind::new("member_removed");
}

/// A room to create.
#[derive(Clone)]
pub struct NewRoom {
    /// The app.
    pub app: Arc<str>,
    /// The room's channel (a new one, unless a direct room for the pair
    /// exists already).
    pub channel: ChannelName,
    /// Direct or group.
    pub kind: RoomKind,
    /// For a direct room: the key of its pair (namespace and both users),
    /// unique per app.
    pub direct_key: Option<String>,
    /// The creating user.
    pub creator: String,
    /// Every member with their role, the creator included.
    pub members: Vec<(String, RoomRole)>,
    /// The payload of the `member_added` event.
    pub encode: EventEncoder<MembersEvent>,
}

/// What creating a room did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCreated {
    /// The room: the new one, or the direct room the pair had already.
    pub room: Room,
    /// Its members.
    pub members: Vec<RoomMember>,
    /// Whether the room is new (false: the existing direct room).
    pub created: bool,
    /// The `member_added` event of a new room.
    pub publication: Option<StoredPublication>,
}

/// What a [`MembersChange`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembersAction {
    /// Adds the users to the room.
    Add,
    /// Removes them.
    Remove,
}

/// Members to add to or remove from a room.
#[derive(Clone)]
pub struct MembersChange {
    /// The app.
    pub app: Arc<str>,
    /// The room's channel.
    pub channel: ChannelName,
    /// The users, with the role to give an added one.
    pub members: Vec<(String, RoomRole)>,
    /// The user who acts.
    pub by: String,
    /// Add or remove them.
    pub action: MembersAction,
    /// The payload of the `member_added` or `member_removed` event.
    pub encode: EventEncoder<MembersEvent>,
}

/// What adding or removing members did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembersChanged {
    /// The room.
    pub room: Room,
    /// The members actually added or removed (users already in, or not in,
    /// the room are left out).
    pub members: Vec<RoomMember>,
    /// The event, when some member changed.
    pub publication: Option<StoredPublication>,
}

/// One room in a user's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// The room.
    pub room: Room,
    /// The user's role in it.
    pub role: RoomRole,
    /// Its members (at most [`MAX_LISTED_MEMBERS`]).
    pub members: Vec<RoomMember>,
    /// How many members it has.
    pub member_count: u64,
    /// Its newest message that is not deleted.
    pub last_message: Option<Message>,
    /// Messages the user has not read.
    pub unread: u64,
    /// Unread messages that mention the user.
    pub mentions: u64,
}

/// The most members a room summary lists.
pub const MAX_LISTED_MEMBERS: usize = 100;

/// One page of a user's rooms, most recently active first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPage {
    /// The rooms.
    pub rooms: Vec<RoomSummary>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

impl Store {
    /// Creates a room with its members and appends `member_added`. For a
    /// direct room whose pair has one already, returns that room instead
    /// (`created: false`) and appends nothing. A group room's channel must
    /// not be a room yet.
    pub async fn create_room(&self, new: NewRoom) -> Result<RoomCreated, StoreError> {
        if new.members.is_empty() {
            return Err(StoreError::InvalidInput("a room needs members".into()));
        }
        self.change(new).await
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
        self.change(change).await
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
}

/// Reads a `next` cursor of [`Store::rooms_of`]: `<last_activity>:<channel>`.
fn parse_room_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    cursor
        .split_once(':')
        .and_then(|(time, channel)| Some((time.parse().ok()?, channel.to_owned())))
        .ok_or_else(|| StoreError::InvalidInput(format!("{cursor:?} is not a rooms cursor")))
}

impl Change for NewRoom {
    type Outcome = RoomCreated;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<RoomCreated, StoreError> {
        let app = &*self.app;
        if let Some(key) = &self.direct_key
            && let Some(room) = rooms::find_direct(connection, app, key).await?
        {
            let members = rooms::members(connection, app, &room.channel, usize::MAX).await?;
            return Ok(RoomCreated {
                room,
                members,
                created: false,
                publication: None,
            });
        }
        if rooms::find(connection, app, &self.channel).await?.is_some() {
            return Err(StoreError::InvalidInput(format!(
                "the room {} exists already",
                self.channel
            )));
        }
        let room = Room {
            channel: self.channel.clone(),
            kind: self.kind,
            created_by: self.creator.clone(),
            created_at: context.now,
            last_activity: context.now,
        };
        rooms::insert(connection, app, &room, self.direct_key.as_deref()).await?;
        let mut members = Vec::with_capacity(self.members.len());
        for (user, role) in &self.members {
            let member = RoomMember {
                user: user.clone(),
                role: *role,
                joined_at: context.now,
            };
            if rooms::add_member(connection, app, &room.channel, &member).await? {
                members.push(member);
            }
        }
        let event = MembersEvent {
            room: room.clone(),
            members,
            by: self.creator.clone(),
        };
        let added = Encoded {
            kind: MembersEvent::ADDED,
            value: &event,
            encode: &self.encode,
        };
        let publication = event::record(connection, context, app, &room.channel, &added).await?;
        let seen = reads::message_count(connection, app, &room.channel).await?;
        for member in &event.members {
            let marker = Marker {
                seen,
                last_read_offset: publication.position.offset,
            };
            reads::set_marker(
                connection,
                app,
                &room.channel,
                &member.user,
                marker,
                context.now,
            )
            .await?;
        }
        Ok(RoomCreated {
            room,
            members: event.members,
            created: true,
            publication: Some(publication),
        })
    }

    fn appended(outcome: &RoomCreated) -> Option<&StoredPublication> {
        outcome.publication.as_ref()
    }
}

impl Change for MembersChange {
    type Outcome = MembersChanged;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<MembersChanged, StoreError> {
        let app = &*self.app;
        let channel = &self.channel;
        // The stream lock first, so membership changes of one room take turns.
        let turn = Turn::take(connection, context, app, channel).await?;
        let room = rooms::find(connection, app, channel)
            .await?
            .ok_or(StoreError::NotFound("room"))?;
        if room.kind == RoomKind::Direct {
            return Err(StoreError::Forbidden("a direct room keeps its two members"));
        }
        let seen = reads::message_count(connection, app, channel).await?;
        let mut members = Vec::new();
        for (user, role) in &self.members {
            if self.action == MembersAction::Add {
                let member = RoomMember {
                    user: user.clone(),
                    role: *role,
                    joined_at: context.now,
                };
                if rooms::add_member(connection, app, channel, &member).await? {
                    let marker = Marker {
                        seen,
                        last_read_offset: turn.offset(),
                    };
                    reads::set_marker(connection, app, channel, user, marker, context.now).await?;
                    members.push(member);
                }
            } else if let Some(member) =
                rooms::remove_member(connection, app, channel, user).await?
            {
                reads::remove_marker(connection, app, channel, user).await?;
                members.push(member);
            }
        }
        if members.is_empty() {
            // Nothing changed: the writer rolls the refused command back, and
            // with it the offset taken above.
            return Err(StoreError::InvalidInput(
                if self.action == MembersAction::Add {
                    "every user named is a member already".into()
                } else {
                    "no user named is a member".into()
                },
            ));
        }
        let event = MembersEvent {
            room: room.clone(),
            members,
            by: self.by.clone(),
        };
        let changed = Encoded {
            kind: match self.action {
                MembersAction::Add => MembersEvent::ADDED,
                MembersAction::Remove => MembersEvent::REMOVED,
            },
            value: &event,
            encode: &self.encode,
        };
        let publication = event::append(connection, context, turn, &changed).await?;
        Ok(MembersChanged {
            room,
            members: event.members,
            publication: Some(publication),
        })
    }

    fn appended(outcome: &MembersChanged) -> Option<&StoredPublication> {
        outcome.publication.as_ref()
    }
}
