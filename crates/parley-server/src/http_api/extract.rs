//! Extractors: the calling app from its API key, JSON bodies whose
//! rejections are answered in the API's error format, and the client's IP
//! address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::state::{AppContext, ServerState};

/// The app whose API key authorized the request.
pub struct ApiApp(pub Arc<AppContext>);

impl FromRequestParts<Arc<ServerState>> for ApiApp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                // The scheme is case-insensitive (RFC 9110).
                let (scheme, key) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing Authorization: Bearer <api key>",
                )
            })?;
        let app = server
            .api_keys
            .get(key)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown API key"))?;
        if !app.origins.allows(&parts.headers) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "origin not allowed"));
        }
        Ok(Self(app.clone()))
    }
}

/// A JSON body; malformed bodies get 400 and oversized ones 413, in the
/// API's error format.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let status = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(ApiError::new(status, rejection.body_text()))
            }
        }
    }
}

/// Path parameters whose rejections (a segment that is not UTF-8 once
/// percent-decoded, or does not parse) are answered in the API's error
/// format, as [`ApiJson`] answers bodies; axum's own `Path` answers them in
/// plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// The IP address the request came from: the TCP peer, as `Server::run`
/// serves with connect info, or, when the peer is one of the configured
/// `trusted_proxies`, the client its `X-Forwarded-For` names. A router
/// served without connect info (an embedding program's own `axum::serve`)
/// sees every request come from `0.0.0.0`, so per-address limits still
/// hold, for all callers together.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Arc<ServerState>> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(
            server.config.trusted_proxies.client(peer, &parts.headers),
        ))
    }
}
