//! Presence: who is in a channel, kept as leases that expire unless renewed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{BackendError, BoxFuture, ChannelName, ClientId};

/// What a user's token says about them, shown to the channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberInfo {
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Application data (a JSON object, as raw text).
    pub info: Option<Bytes>,
}

/// A user present in a channel, however many connections they hold there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// The user id.
    pub user: Arc<str>,
    /// Name, avatar and info from the token.
    pub info: Arc<MemberInfo>,
    /// The member's merged state (a JSON object as raw text): the state
    /// any of their connections set last, with `subscribe`,
    /// `presence_update` or a heartbeat.
    pub state: Option<Bytes>,
    /// When the member's earliest present connection joined, in
    /// milliseconds since the Unix epoch.
    pub joined_at: u64,
    /// The member's connections and heartbeat sessions in the channel, each
    /// with its own state, oldest first.
    pub connections: Vec<PresenceConnection>,
}

/// One connection (or heartbeat session) in a channel's presence: a
/// member's, or an anonymous viewer's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceConnection {
    /// The connection's own state (a JSON object as raw text), if it set
    /// one: a device, a stream quality.
    pub state: Option<Bytes>,
    /// When it joined, in milliseconds since the Unix epoch.
    pub joined_at: u64,
    /// When its lease was last added or renewed (a pong, any frame, a
    /// heartbeat), in milliseconds since the Unix epoch.
    pub last_seen: u64,
}

/// What holds a lease: a connection, or a heartbeat session of a client
/// that holds no socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LeaseKey {
    /// A connection.
    Client(ClientId),
    /// A heartbeat session id.
    Session(Arc<str>),
}

/// One connection's (or heartbeat session's) claim to be in a channel.
#[derive(Debug, Clone)]
pub struct Lease {
    /// What holds the lease.
    pub key: LeaseKey,
    /// The user; empty for an anonymous viewer, who is counted but not
    /// listed.
    pub user: Arc<str>,
    /// The user's info, from their token.
    pub info: Arc<MemberInfo>,
    /// A new state for this connection, which also becomes the member's
    /// merged state; `None` keeps both.
    pub state: Option<Bytes>,
}

/// Counts of a channel's presence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresenceStats {
    /// Distinct users.
    pub num_users: usize,
    /// Leases of users (connections and heartbeat sessions).
    pub num_connections: usize,
    /// Leases of anonymous viewers.
    pub num_anonymous: usize,
}

/// One page of a channel's members, ordered by user id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresencePage {
    /// The members on this page.
    pub members: Vec<Member>,
    /// The cursor of the next page, when there is one.
    pub next: Option<Arc<str>>,
}

/// What adding a lease changed for the channel's subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceChange {
    /// The user's first lease: they joined.
    Joined(Member),
    /// The user was present already and the lease brought a new state.
    StateReplaced(Member),
}

/// What adding a heartbeat session's lease did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAdded {
    /// The lease was added or renewed, with what subscribers should hear
    /// of, as [`PresenceManager::add`] returns it.
    Added(Option<PresenceChange>),
    /// The lease is new and the channel holds the most heartbeat sessions
    /// allowed already; nothing changed.
    Full,
}

/// Users whose last lease in a channel expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The app.
    pub app: Arc<str>,
    /// The channel.
    pub channel: ChannelName,
    /// The users who left the channel with it.
    pub left: Vec<Arc<str>>,
    /// How many leases expired, users' and anonymous ones.
    pub leases: usize,
}

/// The presence store: leases per channel, grouped into members per user.
///
/// Every entry is a lease with a time to live. A lease that is not renewed
/// expires, and [`PresenceManager::expire`] reports the users who left with
/// it, so no cleanup depends on a disconnect event arriving. The in-memory
/// store serves one node; a cluster store (Redis with TTLs) implements the
/// same trait.
pub trait PresenceManager: Send + Sync + 'static {
    /// Adds a lease, or renews it if it exists. Returns what subscribers
    /// should hear of: a join, or a new state of a present member.
    fn add<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<PresenceChange>, BackendError>>;

    /// Adds or renews a heartbeat session's lease ([`LeaseKey::Session`])
    /// as [`PresenceManager::add`] does, but refuses a new one when the
    /// channel holds `max_sessions` session leases already. The check and
    /// the add are one step, so concurrent heartbeats cannot overshoot.
    fn add_session<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<SessionAdded, BackendError>>;

    /// Removes a lease. Returns the user when it was their last lease in the
    /// channel (the user left).
    fn remove<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
    ) -> BoxFuture<'a, Result<Option<Arc<str>>, BackendError>>;

    /// Renews a lease. Returns false when the lease is gone (it expired),
    /// so the holder must add it again.
    fn renew<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Replaces the state of the connection holding lease `key`, and with
    /// it its member's merged state. Returns the updated member, or `None`
    /// when the lease is gone or is an anonymous viewer's (whose state is
    /// kept, but who is no member).
    fn set_state<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        state: Bytes,
    ) -> BoxFuture<'a, Result<Option<Member>, BackendError>>;

    /// Up to `limit` of the channel's anonymous viewers' connections, in
    /// no particular order. Anonymous viewers are counted to everyone but
    /// listed only to the backend.
    fn anonymous<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<PresenceConnection>, BackendError>>;

    /// Members ordered by user id, starting after the cursor `after`.
    fn members<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<PresencePage, BackendError>>;

    /// The channel's counts, in O(1).
    fn stats<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<PresenceStats, BackendError>>;

    /// Drops every expired lease and reports, per channel, who left.
    fn expire(&self) -> BoxFuture<'_, Result<Vec<Expired>, BackendError>>;
}
