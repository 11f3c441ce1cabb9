//! The HTTP API's one error type: a status and a JSON body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `{"error": {"code": 400, "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with a status and a message for the caller.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.status.as_u16(), "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<parley_core::Error> for ApiError {
    fn from(error: parley_core::Error) -> Self {
        use parley_core::Error;
        let status = match &error {
            Error::InvalidChannel(_) => StatusCode::BAD_REQUEST,
            Error::UnknownNamespace(_) => StatusCode::NOT_FOUND,
            Error::MessageTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::PermissionDenied(_) | Error::TooManySubscriptions(_) => StatusCode::FORBIDDEN,
            Error::AlreadySubscribed => StatusCode::CONFLICT,
            Error::TooManyConnections(_) | Error::NodeFull => StatusCode::TOO_MANY_REQUESTS,
            Error::Backend(cause) => {
                tracing::error!(%cause, "backend failure");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        Self::new(status, error.to_string())
    }
}
