//! Namespaces: the options shared by every channel whose name starts with
//! the same `namespace:` prefix.

use std::time::Duration;

/// What clients may do in the channels of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace's name; `default` for channels without a prefix.
    pub name: String,
    /// Clients may publish into the namespace's channels (the server API
    /// always may).
    pub allow_publish: bool,
    /// Connections without a token may subscribe (and publish, where
    /// `allow_publish` is set).
    pub anonymous: bool,
    /// Subscribing needs a channel token, or the channel listed in the
    /// connection token's `channels` claim.
    pub private: bool,
    /// The largest publication payload accepted, in bytes.
    pub max_message_bytes: usize,
    /// Subscribers join the channel's presence.
    pub presence: bool,
    /// Push `join` and `leave` (and `presence_diff`) to subscribers.
    pub join_leave: bool,
    /// How long a presence lease lives without renewal. A connection that
    /// dies silently leaves within this time.
    pub presence_ttl: Duration,
    /// The batching window of join and leave pushes during storms.
    pub presence_batch: Duration,
    /// The largest member state accepted, in bytes.
    pub max_presence_state_bytes: usize,
    /// How long a heartbeat-only viewer stays after its last heartbeat.
    pub stale_after: Duration,
    /// Heartbeat sessions one channel holds at most; a new one past it is
    /// refused.
    pub max_heartbeat_sessions: usize,
    /// When set, the channel's subscribers are pushed its presence counts
    /// when they change, at most once per this interval; `None` pushes
    /// none (clients ask with `presence_stats`).
    pub presence_stats_interval: Option<Duration>,
    /// Clients may send typing indicators.
    pub typing: bool,
    /// How long a typer stays in the list without a new typing event.
    pub typing_timeout: Duration,
    /// Channels `<namespace>:<user id>` carry that user's status changes.
    pub user_status: bool,
    /// Publications an in-memory channel stream keeps for recovery (and,
    /// for persisted namespaces, the most the store keeps); 0 keeps none
    /// in memory and sets no bound in the store.
    pub history_size: usize,
    /// How long kept publications live; zero is no age limit.
    pub history_ttl: Duration,
    /// Where the channels' streams are kept, and so where the node reads
    /// and appends them.
    pub durability: Durability,
    /// The most publications one recovery from the store replays; a client
    /// further behind is told it was not recovered. (A transient stream
    /// replays what it keeps, `history_size`.)
    pub max_recovery: usize,
}

/// Where a namespace's channel streams are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// By the broker (in memory, or in Redis in a cluster), as many as
    /// `history_size` for as long as `history_ttl`; a restart of the
    /// broker starts the streams over with a new epoch.
    #[default]
    Transient,
    /// By the durable store registered with
    /// [`Node::persist_to`](crate::Node::persist_to): every publication is
    /// kept across restarts, answered after its commit.
    Persisted,
}

impl Namespace {
    /// The name of the namespace that holds channels without a prefix.
    pub const DEFAULT: &'static str = "default";

    /// A namespace with the defaults: subscribe with a user token, no client
    /// publishing, not private, 64 KiB payloads, no presence, typing or
    /// status, transient streams.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            allow_publish: false,
            anonymous: false,
            private: false,
            max_message_bytes: 64 * 1024,
            presence: false,
            join_leave: true,
            presence_ttl: Duration::from_secs(45),
            presence_batch: Duration::from_millis(100),
            max_presence_state_bytes: 1024,
            stale_after: Duration::from_secs(120),
            max_heartbeat_sessions: 10_000,
            presence_stats_interval: None,
            typing: false,
            typing_timeout: Duration::from_secs(5),
            user_status: false,
            history_size: 0,
            history_ttl: Duration::ZERO,
            durability: Durability::Transient,
            max_recovery: 300,
        }
    }

    /// The most publications one recovery of a channel of this namespace
    /// replays.
    pub fn recovery_limit(&self) -> usize {
        match self.durability {
            Durability::Transient => self.history_size.max(1),
            Durability::Persisted => self.max_recovery,
        }
    }
}
