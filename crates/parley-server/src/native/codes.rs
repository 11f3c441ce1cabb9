//! Error codes of replies, and close codes of connections.
//!
//! Error codes follow HTTP where one fits. Close codes sit in ranges that
//! tell a client what to do next:
//!
//! | range | meaning |
//! |---|---|
//! | 4000–4099 | do not reconnect unchanged |
//! | 4100–4199 | back off, then reconnect |
//! | 4200–4299 | reconnect at once (and recover) |
//! | 4300–4399 | get a fresh token, then reconnect |

use parley_core::{Disconnect, Error};

/// An error reply's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The code.
    pub code: u16,
    /// A message for people.
    pub message: String,
    /// How long to wait before retrying, for rate limits.
    pub retry_after_ms: Option<u64>,
    /// A compare-and-set conflict's current document, as JSON text
    /// (`{"version", "data"}`).
    pub current: Option<String>,
}

/// Malformed JSON, a missing or wrong field, an invalid channel name.
pub const BAD_REQUEST: u16 = 400;
/// The token is invalid.
pub const UNAUTHORIZED: u16 = 401;
/// The client may not do this.
pub const PERMISSION_DENIED: u16 = 403;
/// The channel's namespace does not exist.
pub const UNKNOWN_NAMESPACE: u16 = 404;
/// The method does not exist.
pub const UNKNOWN_METHOD: u16 = 405;
/// Already connected, or already subscribed; a document at another
/// version than `if_version` (with `current`).
pub const CONFLICT: u16 = 409;
/// A command other than `connect` came before `connect`.
pub const NOT_CONNECTED: u16 = 412;
/// The frame or the payload is too large.
pub const TOO_LARGE: u16 = 413;
/// The namespace's filter refused the text.
pub const FILTERED: u16 = 422;
/// The user is muted in the channel or the app (with `retry_after_ms` when
/// the mute has a timeout).
pub const MUTED: u16 = 423;
/// The token expired: refresh it and retry.
pub const TOKEN_EXPIRED: u16 = 419;
/// Too many commands (with `retry_after_ms`), or the user's connection
/// limit reached.
pub const TOO_MANY_REQUESTS: u16 = 429;
/// The user is banned from the channel or the app.
pub const BANNED: u16 = 451;
/// The server failed; retry later.
pub const INTERNAL: u16 = 500;
/// A backend the command needs (the cluster broker's Redis) did not answer;
/// retry later.
pub const UNAVAILABLE: u16 = 503;

/// The message of [`UNAVAILABLE`], on both the native protocol and the HTTP
/// API. The cause is logged, never sent.
pub const BACKEND_UNAVAILABLE: &str = "the broker is unavailable; retry later";

impl ErrorReply {
    /// An error with a code and message.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
            current: None,
        }
    }
}

impl From<Error> for ErrorReply {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::InvalidChannel(_) | Error::NoHistory => BAD_REQUEST,
            Error::UnknownNamespace(_) => UNKNOWN_NAMESPACE,
            Error::PermissionDenied(_) | Error::TooManySubscriptions(_) => PERMISSION_DENIED,
            Error::AlreadySubscribed | Error::TooManySessions(_) => CONFLICT,
            Error::MessageTooLarge(_) => TOO_LARGE,
            Error::TooManyConnections(_) | Error::NodeFull => TOO_MANY_REQUESTS,
            Error::Backend(_) => UNAVAILABLE,
            Error::Store(_) => INTERNAL,
        };
        let message = match &error {
            Error::Backend(cause) => {
                tracing::error!(%cause, "backend failure");
                BACKEND_UNAVAILABLE.to_owned()
            }
            // As any other store failure: logged, and only "internal error"
            // told.
            Error::Store(cause) => {
                tracing::error!(%cause, "store failure");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        Self::new(code, message)
    }
}

impl From<crate::chat::ChatError> for ErrorReply {
    fn from(error: crate::chat::ChatError) -> Self {
        use crate::chat::ChatError;
        use parley_store::StoreError;
        match error {
            ChatError::NotPersisted => {
                Self::new(BAD_REQUEST, "this namespace does not persist messages")
            }
            ChatError::Invalid(message) => Self::new(BAD_REQUEST, message),
            ChatError::RateLimited(rate, wait) => Self {
                code: TOO_MANY_REQUESTS,
                message: rate.refusal().into(),
                retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)),
                current: None,
            },
            ChatError::Domain(error) => error.into(),
            ChatError::Muted(left) => Self {
                code: MUTED,
                message: "you are muted here".into(),
                retry_after_ms: left
                    .map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1)),
                current: None,
            },
            ChatError::Banned => Self::new(BANNED, "you are banned here"),
            ChatError::Filtered(why) => Self::new(
                FILTERED,
                format!("the text was refused by the filter: {why}"),
            ),
            ChatError::Store(StoreError::NotFound(what)) => {
                Self::new(UNKNOWN_NAMESPACE, format!("no such {what}"))
            }
            ChatError::Store(StoreError::Forbidden(why)) => Self::new(PERMISSION_DENIED, why),
            ChatError::Store(StoreError::InvalidInput(message)) => Self::new(BAD_REQUEST, message),
            ChatError::Store(StoreError::VersionConflict(current)) => {
                let current = crate::json::documents::current_value(current.as_ref().as_ref());
                Self {
                    current: Some(current.to_string()),
                    ..Self::new(
                        CONFLICT,
                        format!("the document is at version {}", current["version"]),
                    )
                }
            }
            ChatError::Store(error @ StoreError::TooLarge { .. }) => {
                Self::new(TOO_LARGE, error.to_string())
            }
            ChatError::Store(error) => {
                tracing::error!(%error, "store failure");
                Self::new(INTERNAL, "internal error")
            }
        }
    }
}

/// The close code the native protocol sends for a disconnect.
pub fn close_code(reason: Disconnect) -> u16 {
    match reason {
        Disconnect::Unauthorized => 4001,
        Disconnect::ProtocolViolation => 4002,
        Disconnect::Forced => 4003,
        Disconnect::FrameTooLarge => 4005,
        Disconnect::NodeFull => 4100,
        Disconnect::TooManyConnections => 4101,
        Disconnect::Shutdown => 4200,
        Disconnect::Slow => 4201,
        Disconnect::NoPong => 4202,
        Disconnect::ConnectTimeout => 4203,
        Disconnect::MissedPublications => 4204,
        Disconnect::TokenExpired => 4300,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_sit_in_the_range_of_their_advice() {
        let all = [
            Disconnect::Unauthorized,
            Disconnect::ProtocolViolation,
            Disconnect::Forced,
            Disconnect::FrameTooLarge,
            Disconnect::NodeFull,
            Disconnect::TooManyConnections,
            Disconnect::Shutdown,
            Disconnect::Slow,
            Disconnect::NoPong,
            Disconnect::ConnectTimeout,
            Disconnect::MissedPublications,
            Disconnect::TokenExpired,
        ];
        for reason in all {
            let code = close_code(reason);
            assert_eq!(code >= 4100, reason.reconnect(), "{reason:?} -> {code}");
        }
    }
}
