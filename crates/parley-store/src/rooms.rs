//! Rooms: channels of members-only namespaces, their members and roles, and
//! the requests and pages about them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use parley_core::ChannelName;

use crate::{Message, StoreError, StoredPublication, Timestamp};

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

/// Turns an event into the payload its publication carries; called inside
/// the write transaction (possibly more than once, if it is retried).
pub type EventEncoder<T> = Arc<dyn Fn(&T) -> Bytes + Send + Sync>;

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
    /// Add (true) or remove (false).
    pub add: bool,
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
