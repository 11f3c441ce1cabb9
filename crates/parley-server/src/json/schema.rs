//! The shapes of the JSON this module writes by hand, for the HTTP API's
//! OpenAPI document (`http_api/openapi.rs`). The writers above build
//! strings for speed, so these types are never constructed: they only
//! describe, field by field, what the writers emit. The schemathesis run in
//! CI (`scripts/schemathesis.sh`) checks real responses against them, which
//! is what keeps the two from drifting apart.

// The fields are read by the `ToSchema` derive only.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

/// A message, as `message_json` writes it. A hidden message has
/// `status: "hidden"`, an empty text and no meta, attachments nor
/// mentions, except for moderators.
#[derive(ToSchema)]
#[schema(as = Message)]
pub struct MessageShape {
    /// The message's id, a decimal number as a string.
    id: String,
    channel: String,
    /// The message's position in its channel's stream.
    offset: u64,
    author: String,
    /// The author's display name when they sent it: their token's `name`,
    /// or the one a backend gave sending as them. Absent when none.
    author_name: Option<String>,
    /// The author's avatar URL when they sent it, like `author_name`.
    author_avatar: Option<String>,
    text: String,
    reply_to: Option<String>,
    client_msg_id: Option<String>,
    /// The sender's JSON, as sent.
    meta: Option<Value>,
    attachments: Option<Vec<UploadShape>>,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    /// Present once the message has replies.
    reply_count: Option<u64>,
    /// The latest repliers, newest first.
    repliers: Option<Vec<String>>,
    mentions: Option<Vec<String>>,
    /// `"hidden"` for a hidden message.
    status: Option<String>,
    /// In reads: `{emoji: {count, me}}`.
    reactions: Option<BTreeMap<String, ReactionCountShape>>,
}

/// One emoji's reactions on a message or a channel.
#[derive(ToSchema)]
#[schema(as = ReactionCount)]
pub struct ReactionCountShape {
    count: u64,
    /// Whether the reader reacted with it.
    me: bool,
}

/// An upload, as the upload reply and message attachments describe it.
#[derive(ToSchema)]
#[schema(as = Upload)]
pub struct UploadShape {
    id: String,
    content_type: String,
    size: u64,
    width: Option<u32>,
    height: Option<u32>,
    /// A path on the server that answered.
    url: String,
    thumbnail: Option<ThumbnailShape>,
    owner: String,
    created_at: i64,
}

/// An image upload's thumbnail.
#[derive(ToSchema)]
#[schema(as = Thumbnail)]
pub struct ThumbnailShape {
    url: String,
    content_type: String,
    size: u64,
    width: u32,
    height: u32,
}

/// A page of a channel's messages.
#[derive(ToSchema)]
#[schema(as = MessagePage)]
pub struct MessagePageShape {
    messages: Vec<MessageShape>,
    has_older: bool,
    has_newer: bool,
    /// With `total=true`: the channel's messages that every reader sees
    /// (not deleted, hidden or shadow; replies included).
    total: Option<u64>,
}

/// Search matches, newest first.
#[derive(ToSchema)]
#[schema(as = SearchMatches)]
pub struct MatchesShape {
    messages: Vec<MessageShape>,
    has_more: bool,
}

/// A thread: its parent and a page of replies, oldest first.
#[derive(ToSchema)]
#[schema(as = Thread)]
pub struct ThreadShape {
    parent: MessageShape,
    replies: Vec<MessageShape>,
    has_more: bool,
}

/// A page of a channel's stream.
#[derive(ToSchema)]
#[schema(as = HistoryPage)]
pub struct HistoryPageShape {
    publications: Vec<PublicationShape>,
    /// The stream's position when the page was read.
    offset: u64,
    epoch: String,
    has_more: bool,
    /// With `total=true`: the channel's message count, as in a page of
    /// messages (messages, not publications).
    total: Option<u64>,
}

/// A publication in a history page.
#[derive(ToSchema)]
#[schema(as = HistoryPublication)]
pub struct PublicationShape {
    /// `publication`, or a chat event's kind (`message_created`, ...).
    kind: String,
    offset: u64,
    data: Value,
    /// Where the store kept the time; a transient stream keeps none.
    created_at: Option<i64>,
}

/// A message's edit trail.
#[derive(ToSchema)]
#[schema(as = EditTrail)]
pub struct EditTrailShape {
    revisions: Vec<RevisionShape>,
}

/// A text a message had before an edit.
#[derive(ToSchema)]
#[schema(as = Revision)]
pub struct RevisionShape {
    revision: u64,
    text: String,
    replaced_at: i64,
}

/// The reply to a reaction change.
#[derive(ToSchema)]
#[schema(as = Reacted)]
pub struct ReactedShape {
    channel: String,
    /// Absent for a reaction to the channel itself.
    message_id: Option<String>,
    user: String,
    emoji: String,
    /// The emoji's count on its target after the change.
    count: u64,
    /// Whether the user now reacts with the emoji.
    me: bool,
    /// False when the reaction was already there, or already gone.
    changed: bool,
}

/// The reactions to a channel itself.
#[derive(ToSchema)]
#[schema(as = ChannelReactions)]
pub struct ChannelReactionsShape {
    channel: String,
    reactions: BTreeMap<String, ReactionCountShape>,
}

/// A mute or a ban in force.
#[derive(ToSchema)]
#[schema(as = Restriction)]
pub struct RestrictionShape {
    user: String,
    /// `mute`, `shadow_mute` or `ban`.
    kind: String,
    /// Null for an app-wide restriction.
    channel: Option<String>,
    /// Null for a restriction without end.
    expires_at: Option<i64>,
    created_by: String,
    created_at: i64,
    /// With several nodes, after a ban: whether the other nodes were told.
    other_nodes: Option<String>,
}

/// The restrictions in force.
#[derive(ToSchema)]
#[schema(as = Restrictions)]
pub struct RestrictionsShape {
    restrictions: Vec<RestrictionShape>,
}

/// Whether a lift found a restriction to lift.
#[derive(ToSchema)]
#[schema(as = Lifted)]
pub struct LiftedShape {
    lifted: bool,
}

/// A report of a message.
#[derive(ToSchema)]
#[schema(as = Report)]
pub struct ReportShape {
    id: String,
    message_id: String,
    channel: String,
    reporter: String,
    reason: String,
    /// `open` or `resolved`.
    status: String,
    action: Option<String>,
    resolved_by: Option<String>,
    created_at: i64,
    resolved_at: Option<i64>,
}

/// A page of reports.
#[derive(ToSchema)]
#[schema(as = ReportPage)]
pub struct ReportPageShape {
    reports: Vec<ReportShape>,
    has_more: bool,
}

/// A user's block list.
#[derive(ToSchema)]
#[schema(as = Blocks)]
pub struct BlocksShape {
    blocks: Vec<String>,
}

/// A read marker after a change.
#[derive(ToSchema)]
#[schema(as = ReadChange)]
pub struct ReadChangeShape {
    channel: String,
    user: String,
    last_read_offset: u64,
    unread: u64,
    /// Whether the marker moved.
    moved: bool,
}

/// A user's unread counts; channels with nothing unread are left out.
#[derive(ToSchema)]
#[schema(as = Unread)]
pub struct UnreadShape {
    channels: Vec<ChannelUnreadShape>,
    unread: u64,
    mentions: u64,
}

/// One channel's unread counts.
#[derive(ToSchema)]
#[schema(as = ChannelUnread)]
pub struct ChannelUnreadShape {
    channel: String,
    unread: u64,
    mentions: u64,
    last_read_offset: u64,
}

/// A room member.
#[derive(ToSchema)]
#[schema(as = RoomMember)]
pub struct RoomMemberShape {
    user: String,
    role: String,
    joined_at: i64,
}

/// A room's members.
#[derive(ToSchema)]
#[schema(as = RoomMembers)]
pub struct RoomMembersShape {
    members: Vec<RoomMemberShape>,
}

/// A room created, or found when it existed.
#[derive(ToSchema)]
#[schema(as = RoomCreated)]
pub struct RoomCreatedShape {
    /// The room's fields (`channel`, `kind`, `created_by`, ...).
    room: BTreeMap<String, Value>,
    members: Vec<RoomMemberShape>,
    created: bool,
    offset: Option<u64>,
    epoch: Option<String>,
}

/// A room's members after a change: the changed ones.
#[derive(ToSchema)]
#[schema(as = RoomMembersChanged)]
pub struct RoomMembersChangedShape {
    room: BTreeMap<String, Value>,
    members: Vec<RoomMemberShape>,
    offset: u64,
    epoch: String,
}

/// A page of a user's rooms.
#[derive(ToSchema)]
#[schema(as = RoomPage)]
pub struct RoomPageShape {
    /// Each room's fields with the user's `role`, `members`,
    /// `member_count`, `last_message`, `unread` and `mentions`.
    rooms: Vec<BTreeMap<String, Value>>,
    /// The cursor of the next page, null on the last one.
    next: Option<String>,
}

/// A page of a presence channel's members.
#[derive(ToSchema)]
#[schema(as = PresencePage)]
pub struct PresencePageShape {
    /// Each member: `user`, the info their token gave, their merged
    /// `state`, `joined_at` and `connections` (each a `PresenceConnection`).
    members: Vec<BTreeMap<String, Value>>,
    /// The cursor of the next page, absent on the last one.
    next: Option<String>,
    /// With `anonymous=true`: anonymous viewers' connections.
    anonymous: Option<Vec<PresenceConnectionShape>>,
}

/// One connection (or heartbeat session) in a channel's presence.
#[derive(ToSchema)]
#[schema(as = PresenceConnection)]
pub struct PresenceConnectionShape {
    /// The connection's own state, when it set one.
    state: Option<Value>,
    /// Milliseconds since the Unix epoch.
    joined_at: u64,
    /// When its lease was last added or renewed, in milliseconds since the
    /// Unix epoch.
    last_seen: u64,
}

/// A page of the caller's uploads, newest first.
#[derive(ToSchema)]
#[schema(as = UploadPage)]
pub struct UploadPageShape {
    uploads: Vec<UploadShape>,
    /// The cursor of the next page, absent on the last one.
    next: Option<String>,
}

/// A channel's pinned messages.
#[derive(ToSchema)]
#[schema(as = Pins)]
pub struct PinsShape {
    pins: Vec<BTreeMap<String, Value>>,
}

/// A live document, as `json::documents::document_value` writes it.
#[derive(ToSchema)]
#[schema(as = Document)]
pub struct DocumentShape {
    key: String,
    /// The document's data, a JSON object.
    data: BTreeMap<String, Value>,
    /// 1 when created, one more at each change.
    version: u64,
    /// Milliseconds since the Unix epoch.
    updated_at: i64,
    updated_by: String,
}

/// A document write's answer: the change (`data` null after a delete)
/// and the stream position of its `doc_changed` event.
#[derive(ToSchema)]
#[schema(as = DocumentChange)]
pub struct DocumentChangeShape {
    key: String,
    data: Option<BTreeMap<String, Value>>,
    version: u64,
    updated_at: i64,
    updated_by: String,
    offset: u64,
    epoch: String,
}

/// A page of a channel's documents.
#[derive(ToSchema)]
#[schema(as = DocumentPage)]
pub struct DocumentPageShape {
    documents: Vec<DocumentShape>,
    /// The cursor of the next page, when there is more.
    next: Option<String>,
}
