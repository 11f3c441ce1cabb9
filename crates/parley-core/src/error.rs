//! Errors of domain operations. Wire protocols map each to their own codes.

use crate::{BackendError, InvalidChannelName};

/// Why a domain operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The channel name is malformed.
    #[error("invalid channel name: {0}")]
    InvalidChannel(#[from] InvalidChannelName),
    /// The channel's namespace is not configured.
    #[error("unknown namespace {0:?}")]
    UnknownNamespace(String),
    /// The client may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    /// The client is already subscribed to the channel.
    #[error("already subscribed")]
    AlreadySubscribed,
    /// The client holds as many subscriptions as allowed.
    #[error("subscription limit of {0} reached")]
    TooManySubscriptions(usize),
    /// The payload is larger than the namespace allows.
    #[error("message larger than {0} bytes")]
    MessageTooLarge(usize),
    /// The user holds as many connections as the app allows.
    #[error("user connection limit of {0} reached")]
    TooManyConnections(usize),
    /// The node holds as many connections as it may.
    #[error("node connection limit reached")]
    NodeFull,
    /// The channel holds as many heartbeat sessions as its namespace allows.
    #[error("the channel holds the most heartbeat sessions allowed ({0})")]
    TooManySessions(usize),
    /// The namespace keeps no history to page through: its streams are
    /// transient and keep no publications (`history_size` is 0).
    #[error("this namespace keeps no history (set history_size or persist)")]
    NoHistory,
    /// A backend (broker, presence store) failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The durable store of a persisted namespace's streams failed, or none
    /// was registered.
    #[error("durable stream: {0}")]
    Store(BackendError),
}
