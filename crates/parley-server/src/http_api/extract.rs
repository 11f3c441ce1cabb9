//! Extractors: the calling app from its API key, the caller (a backend or
//! a user's token), JSON bodies whose rejections are answered in the API's
//! error format, the client's IP address and its heartbeat limit. They are
//! where the API's handlers meet the server's state: a handler takes these
//! and the chat service, never the state itself.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::chat::{self, Actor};
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

/// Who calls: a backend with an API key, or a user with their JWT (of the
/// app named by `?app=`, or the default app).
pub enum Caller {
    /// An API key: trusted, acts as any user.
    Backend(Arc<AppContext>),
    /// A user's token.
    User {
        /// The user's app.
        app: Arc<AppContext>,
        /// The user and their moderation rights.
        actor: Actor,
    },
}

impl Caller {
    /// The caller's app.
    pub fn app(&self) -> &Arc<AppContext> {
        match self {
            Caller::Backend(app) | Caller::User { app, .. } => app,
        }
    }
}

#[derive(Deserialize)]
struct AppQuery {
    app: Option<String>,
}

/// The app a user's request is for: the one `?app=` names, or the default
/// app; refused when the request's origin may not use it.
pub struct UserApp(pub Arc<AppContext>);

impl FromRequestParts<Arc<ServerState>> for UserApp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, ApiError> {
        let Query(query) = Query::<AppQuery>::try_from_uri(&parts.uri)
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
        let app = match &query.app {
            None => server.default_app.clone(),
            Some(id) => server.app(id).cloned().ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, format!("unknown app {id:?}"))
            })?,
        };
        if !app.origins.allows(&parts.headers) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "origin not allowed"));
        }
        Ok(Self(app))
    }
}

impl FromRequestParts<Arc<ServerState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing Authorization: Bearer <api key or user token>",
                )
            })?;
        if server.api_keys.contains_key(&token) {
            let ApiApp(app) = ApiApp::from_request_parts(parts, server).await?;
            return Ok(Caller::Backend(app));
        }
        let UserApp(app) = UserApp::from_request_parts(parts, server).await?;
        let claims = app
            .keys
            .verify_connection(&token)
            .map_err(|error| ApiError::new(StatusCode::UNAUTHORIZED, error.to_string()))?;
        let actor = Actor {
            moderator: chat::is_moderator(&claims.roles),
            profile: chat::Profile::of(&claims),
            user: claims.user,
            limited: true,
        };
        Ok(Caller::User { app, actor })
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

/// A heartbeat within its address's limit. Taken before the body is read,
/// so a flood costs neither parsing nor token checks; over the limit it is
/// 429 with `Retry-After`.
pub struct WithinHeartbeatLimit;

impl FromRequestParts<Arc<ServerState>> for WithinHeartbeatLimit {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, server).await;
        server
            .heartbeat_limits
            .check(ip)
            .map_err(|wait| ApiError::too_many("too many heartbeats from this address", wait))?;
        Ok(Self)
    }
}
