//! The HTTP API's one error type: a status and a JSON body.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `{"error": {"code": 400, "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds to wait, sent as `Retry-After` with a 429.
    retry_after: Option<u64>,
    /// A document's current version and data, sent as `current` with a
    /// compare-and-set refusal (412).
    current: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status and a message for the caller.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            current: None,
        }
    }

    /// 429 with `Retry-After` (whole seconds, at least 1) and
    /// `retry_after_ms`.
    pub fn too_many(message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(retry_seconds(wait)),
            current: None,
        }
    }
}

/// A wait in whole seconds for `Retry-After`, rounded up, at least 1.
fn retry_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.status.as_u16(), "message": self.message}});
        if let Some(current) = self.current {
            body["error"]["current"] = current;
        }
        match self.retry_after {
            Some(seconds) => {
                body["error"]["retry_after_ms"] = json!(seconds * 1000);
                (
                    self.status,
                    [(header::RETRY_AFTER, seconds.to_string())],
                    Json(body),
                )
                    .into_response()
            }
            None => (self.status, Json(body)).into_response(),
        }
    }
}

impl From<parley_core::Error> for ApiError {
    fn from(error: parley_core::Error) -> Self {
        use parley_core::Error;
        let status = match &error {
            Error::InvalidChannel(_) | Error::NoHistory => StatusCode::BAD_REQUEST,
            Error::UnknownNamespace(_) => StatusCode::NOT_FOUND,
            Error::MessageTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::PermissionDenied(_) | Error::TooManySubscriptions(_) => StatusCode::FORBIDDEN,
            // A full channel is not the caller's fault, and not an auth
            // problem: 409, apart from the 403s of permissions.
            Error::AlreadySubscribed | Error::TooManySessions(_) => StatusCode::CONFLICT,
            Error::TooManyConnections(_) | Error::NodeFull => StatusCode::TOO_MANY_REQUESTS,
            Error::Backend(cause) => {
                tracing::error!(%cause, "backend failure");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    crate::native::codes::BACKEND_UNAVAILABLE,
                );
            }
            // As any other store failure: logged, and only "internal error"
            // told.
            Error::Store(cause) => {
                tracing::error!(%cause, "store failure");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        Self::new(status, error.to_string())
    }
}

impl From<crate::chat::ChatError> for ApiError {
    fn from(error: crate::chat::ChatError) -> Self {
        use crate::chat::ChatError;
        use parley_store::StoreError;
        match error {
            ChatError::NotPersisted => Self::new(
                StatusCode::BAD_REQUEST,
                "this namespace does not persist messages",
            ),
            ChatError::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, message),
            ChatError::RateLimited(rate, wait) => Self::too_many(rate.refusal(), wait),
            ChatError::Domain(error) => error.into(),
            ChatError::Muted(left) => Self {
                status: StatusCode::LOCKED,
                message: "the user is muted here".into(),
                retry_after: left.map(retry_seconds),
                current: None,
            },
            ChatError::Banned => Self::new(
                StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
                "the user is banned here",
            ),
            ChatError::Filtered(why) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the text was refused by the filter: {why}"),
            ),
            ChatError::Store(StoreError::NotFound(what)) => {
                Self::new(StatusCode::NOT_FOUND, format!("no such {what}"))
            }
            ChatError::Store(StoreError::Forbidden(why)) => Self::new(StatusCode::FORBIDDEN, why),
            ChatError::Store(StoreError::InvalidInput(message)) => {
                Self::new(StatusCode::BAD_REQUEST, message)
            }
            // Over HTTP, compare-and-set is `If-Match`: its refusal is 412.
            ChatError::Store(StoreError::VersionConflict(current)) => {
                let current = crate::json::documents::current_value(current.as_ref().as_ref());
                Self {
                    current: Some(current.clone()),
                    ..Self::new(
                        StatusCode::PRECONDITION_FAILED,
                        format!("the document is at version {}", current["version"]),
                    )
                }
            }
            ChatError::Store(error @ StoreError::TooLarge { .. }) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
            }
            ChatError::Store(error) => {
                tracing::error!(%error, "store failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}
