//! Presence over HTTP: members and counts for backends, heartbeats for
//! viewers that hold no socket, and user status.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::{App, ChannelName, Grant, Lease, LeaseKey, MemberInfo, Namespace};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::extract::WithinHeartbeatLimit;
use super::extract::{ApiApp, ApiJson, UserApp};
use super::{ApiError, ApiPath};
use crate::auth::AuthError;
use crate::chat::Chat;
use crate::native::codes::{self, ErrorReply};
use crate::native::presence::{MAX_PAGE, StatusEntry, checked_state};
use crate::native::push;
use crate::state::AppContext;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    #[param(example = "chat:lobby")]
    channel: String,
    cursor: Option<String>,
    limit: Option<usize>,
    /// Also list up to `limit` anonymous viewers' connections.
    #[serde(default)]
    anonymous: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    #[param(example = "chat:lobby")]
    channel: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Stats {
    num_users: usize,
    num_connections: usize,
    num_anonymous: usize,
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

/// The channel `name` of a namespace with presence.
fn presence_channel<'a>(
    app: &'a App,
    name: &str,
) -> Result<(ChannelName, &'a Namespace), ApiError> {
    let channel = ChannelName::new(name).map_err(parley_core::Error::from)?;
    let namespace = app.namespace(&channel)?;
    if !namespace.presence {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "presence is off in this namespace",
        ));
    }
    Ok((channel, namespace))
}

/// `GET /api/v1/presence?channel=&cursor=&limit=&anonymous=` →
/// `{members, next?, anonymous?}`: members with their connections and, on
/// request, anonymous viewers' connections (only the backend sees those).
#[utoipa::path(
    get,
    path = "/api/v1/presence",
    tag = "presence",
    params(PresenceQuery),
    responses((status = 200, description = "A page of members, with their connections.", body = crate::json::schema::PresencePageShape)),
    security(("api_key" = [])),
)]
pub async fn members(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    params: Result<Query<PresenceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let (channel, _) = presence_channel(&app.app, &params.channel)?;
    let limit = params.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let page = chat
        .node()
        .presence_members(&app.app, &channel, params.cursor.as_deref(), limit)
        .await?;
    let body = if params.anonymous {
        let anonymous = chat
            .node()
            .presence_anonymous(&app.app, &channel, limit)
            .await?;
        push::members_and_anonymous_json(&page, &anonymous)
    } else {
        push::members_json(&page)
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /api/v1/presence/stats?channel=` → `{num_users, num_connections, num_anonymous}`.
#[utoipa::path(
    get,
    path = "/api/v1/presence/stats",
    tag = "presence",
    params(StatsQuery),
    responses((status = 200, description = "The channel's counts.", body = Stats)),
    security(("api_key" = [])),
)]
pub async fn stats(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    params: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let params = query(params)?;
    let (channel, _) = presence_channel(&app.app, &params.channel)?;
    let stats = chat.node().presence_stats(&app.app, &channel).await?;
    Ok(Json(Stats {
        num_users: stats.num_users,
        num_connections: stats.num_connections,
        num_anonymous: stats.num_anonymous,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HeartbeatBody {
    #[schema(example = "chat:lobby")]
    channel: String,
    session_id: String,
    /// A channel token, for private namespaces.
    token: Option<String>,
    /// The session's own state (a JSON object within the namespace's
    /// `max_presence_state_bytes`); left out, the last one is kept.
    #[schema(value_type = Option<Object>)]
    state: Option<Box<RawValue>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HeartbeatResult {
    expires_in_ms: u64,
}

/// The longest session id accepted.
const MAX_SESSION_ID: usize = 128;

/// `POST /api/v1/presence/heartbeat?app= {channel, session_id, token?}`:
/// keeps a viewer without a socket in the channel's presence until
/// `stale_after` past the last heartbeat. Authorised with the user's JWT
/// (`Authorization: Bearer <jwt>`), or anonymous where the namespace allows.
/// Limited per client IP address (`heartbeats_per_ip`, 429) and per channel
/// (`max_heartbeat_sessions` new sessions, 409).
#[utoipa::path(
    post,
    path = "/api/v1/presence/heartbeat",
    tag = "presence",
    request_body = HeartbeatBody,
    responses((status = 200, description = "The viewer is present until the lease expires.", body = HeartbeatResult)),
    security((), ("user_token" = [])),
)]
pub async fn heartbeat(
    State(chat): State<Chat>,
    _: WithinHeartbeatLimit,
    headers: HeaderMap,
    // Looked up once the body is read, so a bad body is answered first.
    app: Result<UserApp, ApiError>,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> Result<Json<HeartbeatResult>, ApiError> {
    let UserApp(app) = app?;
    if body.session_id.is_empty()
        || body.session_id.len() > MAX_SESSION_ID
        || !body.session_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("session_id must be 1 to {MAX_SESSION_ID} printable ASCII characters"),
        ));
    }
    let (user, info) = viewer(&app, &headers)?;
    let (channel, namespace) = presence_channel(&app.app, &body.channel)?;
    let grant = match &body.token {
        None => Grant::None,
        Some(token) => {
            app.keys
                .verify_channel(token, &user, channel.as_str())
                .map_err(unauthorized)?;
            Grant::Token
        }
    };
    app.app.check_subscribe(&user, &channel, grant)?;
    let state = body
        .state
        .as_deref()
        .map(|state| checked_state(state, namespace))
        .transpose()
        .map_err(state_error)?;
    // The user is part of the key, so nobody renews another user's session.
    let session: Arc<str> = Arc::from(format!("{user}\u{0}{}", body.session_id));
    let lease = Lease {
        key: LeaseKey::Session(session),
        user,
        info,
        state,
    };
    chat.node()
        .presence_heartbeat(&app.app, &channel, namespace, lease)
        .await?;
    Ok(Json(HeartbeatResult {
        expires_in_ms: u64::try_from(namespace.stale_after.as_millis()).unwrap_or(u64::MAX),
    }))
}

/// The user of a heartbeat: from the JWT in `Authorization`, or anonymous.
fn viewer(app: &AppContext, headers: &HeaderMap) -> Result<(Arc<str>, Arc<MemberInfo>), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok((Arc::from(""), Arc::default()));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Authorization must be Bearer <jwt>",
            )
        })?;
    let claims = app.keys.verify_connection(token).map_err(unauthorized)?;
    let info = MemberInfo {
        name: claims.name,
        avatar: claims.avatar,
        info: claims.info,
    };
    Ok((claims.user, Arc::new(info)))
}

/// A refused state: 413 past the namespace's limit, 400 otherwise.
fn state_error(error: ErrorReply) -> ApiError {
    let status = if error.code == codes::TOO_LARGE {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, error.message)
}

fn unauthorized(error: AuthError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, error.to_string())
}

/// `GET /api/v1/users/{id}/status` → `{user, status, last_seen?}`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user}/status",
    tag = "presence",
    params(("user" = String, Path, example = "alice")),
    responses((status = 200, description = "The user's status.", body = StatusEntry)),
    security(("api_key" = [])),
)]
pub async fn user_status(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(user): ApiPath<String>,
) -> Json<StatusEntry> {
    let statuses = chat.node().user_statuses(&app.app, &[user]).await;
    let entry = statuses
        .first()
        .map(StatusEntry::from)
        .expect("one status per user asked");
    Json(entry)
}
