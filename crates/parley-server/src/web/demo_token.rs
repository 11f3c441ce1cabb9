//! `POST /demo/token`: a short-lived guest token of the default app for the
//! demo chat, with the display name the visitor picked. Only while the demo
//! is on; rate-limited per client IP address.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{TokenClaims, unix_now};
use crate::config::{DEMO_NAMESPACE, Rate};
use crate::http_api::{ApiError, ApiJson, ClientIp, HeartbeatLimits};
use crate::state::ServerState;

/// How long a guest token is valid. The demo page renews it before then.
pub const GUEST_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest display name, in characters.
const MAX_NAME_CHARS: usize = 32;

/// Guest user ids start with this, so a renewal only ever keeps a guest's id.
const GUEST_PREFIX: &str = "guest-";

/// The per-IP limit of guest tokens: the heartbeats' token bucket per
/// address (an IPv6 /64 counts as one), at `[web] demo_tokens_per_ip`.
pub struct DemoTokenLimits {
    buckets: HeartbeatLimits,
    /// Requests seen, so idle addresses are forgotten every so often.
    requests: AtomicU64,
}

impl DemoTokenLimits {
    /// Limits of `rate` tokens per address.
    pub fn new(rate: Rate) -> Self {
        Self {
            buckets: HeartbeatLimits::new(rate),
            requests: AtomicU64::new(0),
        }
    }
}

/// The body: the name to show, and the guest's current token when renewing
/// it (the new token keeps that guest's user id).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    #[serde(default)]
    renew: Option<String>,
}

/// Mints the token. Checks, in order: the demo is on (404), the address's
/// limit (429), the body (415, 400), the name (400), the token to renew
/// (401).
pub async fn mint(
    State(server): State<Arc<ServerState>>,
    Extension(limits): Extension<Arc<DemoTokenLimits>>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<TokenRequest>, ApiError>,
) -> Result<Response, ApiError> {
    if !server.config.web.demo {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "the demo is off: start the server with `parley serve --demo` or set [web] demo = true",
        ));
    }
    if limits.requests.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
        limits.buckets.forget_idle();
    }
    limits
        .buckets
        .check(ip)
        .map_err(|wait| ApiError::too_many("too many guest tokens from this address", wait))?;
    let ApiJson(request) = body?;
    let name = valid_name(&request.name)?;
    let app = &server.default_app;
    let user = match &request.renew {
        None => format!("{GUEST_PREFIX}{:012x}", rand::random::<u64>() >> 16),
        Some(token) => {
            let claims = app.keys.verify_connection(token).map_err(|error| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("cannot renew: {error}; ask for a new token without `renew`"),
                )
            })?;
            let user = claims.user.to_string();
            if !user.starts_with(GUEST_PREFIX) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "cannot renew: only guest tokens are renewed here",
                ));
            }
            user
        }
    };
    let expires_at = unix_now() + GUEST_TOKEN_TTL.as_secs();
    let token = app.keys.mint(&TokenClaims {
        sub: user.clone(),
        exp: Some(expires_at),
        name: Some(name.clone()),
        avatar: None,
        roles: Vec::new(),
        info: None,
        channels: Vec::new(),
        channel: None,
    });
    Ok(axum::Json(json!({
        "token": token,
        "user": user,
        "name": name,
        "app": app.config.id,
        "namespace": DEMO_NAMESPACE,
        "expires_at": expires_at,
    }))
    .into_response())
}

/// The name trimmed, or why it cannot be shown.
fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let invalid = |message: String| Err(ApiError::new(StatusCode::BAD_REQUEST, message));
    if name.is_empty() {
        return invalid("name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return invalid(format!("name must be at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return invalid("name must not hold control characters".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(valid_name("  Ann ").ok(), Some("Ann".to_owned()));
        assert_eq!(valid_name("Zoë 🚀").ok(), Some("Zoë 🚀".to_owned()));
        assert!(valid_name("   ").is_err());
        assert!(valid_name("a\u{7}b").is_err());
        assert!(valid_name(&"x".repeat(33)).is_err());
        assert!(valid_name(&"é".repeat(32)).is_ok());
    }
}
