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
/// `{app_id}` (or, on a route without one, by its `auth_key`) and signed
/// with its secret, the query and the body.
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
            .map(|(_, value)| value.to_owned());
        let Query(params) = Query::<Vec<(String, String)>>::from_request_parts(&mut parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), server)
            .await
            .map_err(IntoResponse::into_response)?;
        let app = match app_id {
            Some(app_id) => server.app(&app_id),
            // A route without `{app_id}` (the Python SDK's
            // `terminate_user_connections`): the app whose key signed it.
            None => auth_key(&params)
                .and_then(|key| server.apps.values().find(|app| app.config.key == key)),
        }
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown app").into_response())?;
        verify(&app, method.as_str(), &path, &params, &body)
            .map_err(IntoResponse::into_response)?;
        Ok(Self { app, params, body })
    }
}

/// The `auth_key` a request names (in any case), when it names one.
fn auth_key(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("auth_key"))
        .map(|(_, value)| value.as_str())
}

/// Checks the request's signature against the app's key and secret.
///
/// Every value it checks (`auth_key`, `auth_timestamp`, `body_md5`, the
/// signature) is read from the same map the signed string is built from, and
/// a parameter given twice is refused: were the checks to read one copy and
/// the signature cover another, an old signature could carry a fresh
/// timestamp and the MD5 of a new body.
fn verify(
    app: &AppContext,
    method: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
) -> Result<(), ApiError> {
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, message);
    let params = signed_params(params)?;
    let param = |name: &str| params.get(name).copied();
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
    let query = params
        .iter()
        .filter(|(key, _)| key.as_str() != "auth_signature")
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

/// The query as the signature covers it: keys lowercased (as the SDKs sign
/// them) and sorted. A key given twice, in any case, is a 400: no SDK sends
/// one, and which copy counts would otherwise be a matter of who reads it.
fn signed_params(params: &[(String, String)]) -> Result<BTreeMap<String, &str>, ApiError> {
    let mut signed = BTreeMap::new();
    for (key, value) in params {
        let key = key.to_lowercase();
        if signed.contains_key(&key) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("query parameter {key} is given more than once"),
            ));
        }
        signed.insert(key, value.as_str());
    }
    Ok(signed)
}
