//! `SignedRequest`: the extractor of the Pusher HTTP API. A handler that
//! takes one runs only for a request signed as the Pusher server SDKs sign:
//! `auth_key`, `auth_timestamp`, `auth_version`, `body_md5` (for a body) and
//! `auth_signature = hex(HMAC-SHA256(secret, "METHOD\npath\nquery"))` over
//! the sorted query without `auth_signature`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use md5::{Digest, Md5};

use super::sign;
use crate::auth::unix_now;
use crate::http_api::ApiError;
use crate::state::{AppContext, ServerState};

/// How far a request's `auth_timestamp` may be from the server's clock.
const MAX_CLOCK_SKEW_SECS: u64 = 600;

/// A request whose signature checked out: the app named by the path's
/// `{app_id}` and signed with its secret, the query and the body.
///
/// It reads the body, so it is a handler's last extractor. Rejections are
/// axum's own for a malformed query or an unreadable body, and the API's
/// JSON errors otherwise: 404 for an unknown app, 401 for anything wrong
/// with the signature.
pub struct SignedRequest {
    /// The app the request is signed for.
    pub app: Arc<AppContext>,
    /// The query parameters, in the order given, `auth_*` ones included.
    pub params: Vec<(String, String)>,
    /// The raw body (empty for a `GET`).
    pub body: Bytes,
}

impl FromRequest<Arc<ServerState>> for SignedRequest {
    type Rejection = Response;

    async fn from_request(request: Request, server: &Arc<ServerState>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let path = RawPathParams::from_request_parts(&mut parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        let app_id = path
            .iter()
            .find(|(name, _)| *name == "app_id")
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default();
        let Query(params) = Query::<Vec<(String, String)>>::from_request_parts(&mut parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), server)
            .await
            .map_err(IntoResponse::into_response)?;
        let app = server
            .app(&app_id)
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown app").into_response())?;
        verify(&app, method.as_str(), &path, &params, &body)
            .map_err(IntoResponse::into_response)?;
        Ok(Self { app, params, body })
    }
}

/// Checks the request's signature against the app's key and secret.
fn verify(
    app: &AppContext,
    method: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
) -> Result<(), ApiError> {
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, message);
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if app.config.key.is_empty() || param("auth_key") != Some(app.config.key.as_str()) {
        return Err(unauthorized("unknown auth_key"));
    }
    if param("auth_version") != Some("1.0") {
        return Err(unauthorized("auth_version must be 1.0"));
    }
    let timestamp: u64 = param("auth_timestamp")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| unauthorized("auth_timestamp missing"))?;
    if timestamp.abs_diff(unix_now()) > MAX_CLOCK_SKEW_SECS {
        return Err(unauthorized(
            "auth_timestamp is more than 600 s from the server's time",
        ));
    }
    if !body.is_empty() {
        let md5 = hex::encode(Md5::digest(body));
        if param("body_md5") != Some(md5.as_str()) {
            return Err(unauthorized("body_md5 does not match the body"));
        }
    }
    let mut signed: BTreeMap<String, &str> = BTreeMap::new();
    for (key, value) in params {
        if key != "auth_signature" {
            signed.insert(key.to_lowercase(), value);
        }
    }
    let query = signed
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    // The path as the SDK signed it, before a proxy stripped its prefix.
    let path = format!("{}{path}", app.config.pusher.api_path_prefix);
    let message = format!("{method}\n{path}\n{query}");
    let signature = param("auth_signature").unwrap_or_default();
    if !sign::verify_hex(&app.config.secret, &message, signature) {
        return Err(unauthorized("invalid signature"));
    }
    Ok(())
}
