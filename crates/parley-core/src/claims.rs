//! What a verified connection token says about its user.

use std::sync::Arc;

use bytes::Bytes;

/// The claims of a verified connection token, in domain terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`sub`).
    pub user: Arc<str>,
    /// Display name (`name`).
    pub name: Option<String>,
    /// Avatar URL (`avatar`).
    pub avatar: Option<String>,
    /// Roles such as `moderator` or `admin` (`roles`).
    pub roles: Vec<String>,
    /// Application data about the user (`info`), kept as the raw JSON text
    /// the token carried so the core never parses it.
    pub info: Option<Bytes>,
    /// Channels the connection is subscribed to at connect (`channels`).
    pub channels: Vec<String>,
    /// Expiry as seconds since the Unix epoch (`exp`); `None` never expires.
    pub expires_at: Option<u64>,
}
