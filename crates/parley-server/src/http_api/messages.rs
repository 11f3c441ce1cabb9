//! Chat and history over HTTP: for backends (API key) and for clients
//! without a socket (the user's JWT).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::{ChannelName, Grant};
use serde::Deserialize;

use super::extract::{ApiApp, ApiJson};
use super::{ApiError, ApiPath};
use crate::chat::{self, Actor, MessagesCursor, SendRequest, json};
use crate::state::{AppContext, ServerState};

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
        let claims = app
            .keys
            .verify_connection(&token)
            .map_err(|error| ApiError::new(StatusCode::UNAUTHORIZED, error.to_string()))?;
        let actor = Actor {
            moderator: chat::is_moderator(&claims.roles),
            user: claims.user,
            limited: true,
        };
        Ok(Caller::User { app, actor })
    }
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn channel(name: &str) -> Result<ChannelName, ApiError> {
    Ok(ChannelName::new(name).map_err(parley_core::Error::from)?)
}

#[derive(Deserialize)]
pub struct HistoryParams {
    channel: String,
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
}

/// `GET /api/v1/history?channel=&limit=&before=&after=`: a page of a
/// persisted channel's stream.
pub async fn history(
    State(server): State<Arc<ServerState>>,
    ApiApp(app): ApiApp,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let channel = channel(&params.channel)?;
    let page = chat::history_json(
        &server,
        &app,
        &channel,
        params.before,
        params.after,
        params.limit,
        &chat::moderation::Viewer::server(),
    )
    .await?;
    Ok(json_response(page))
}

/// `POST /api/v1/messages {channel, text, user?, ...}`: sends as a user, or
/// as `system`. Message limits do not apply to the server API.
pub async fn send(
    State(server): State<Arc<ServerState>>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let name = body
        .channel
        .as_deref()
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "missing field `channel`"))?;
    let channel = channel(name)?;
    let actor = Actor {
        user: Arc::from(body.user.as_deref().unwrap_or("system")),
        moderator: true,
        limited: false,
    };
    Ok(sent_response(
        chat::send(&server, &app, &channel, &actor, body).await?,
    ))
}

#[derive(Deserialize)]
pub struct DeleteParams {
    #[serde(default)]
    hard: bool,
}

/// `DELETE /api/v1/messages/{id}?hard=true`: moderation; soft by default.
pub async fn delete(
    State(server): State<Arc<ServerState>>,
    ApiApp(app): ApiApp,
    ApiPath(id): ApiPath<String>,
    params: Result<Query<DeleteParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let actor = Actor {
        user: Arc::from("system"),
        moderator: true,
        limited: false,
    };
    let message = chat::delete(&server, &app, &id, &actor, params.hard).await?;
    Ok(json_response(json::message_json(&message)))
}

/// Checks that a user may read a channel (for a room's, that they are a
/// member).
async fn check_reader(
    server: &ServerState,
    caller: &Caller,
    channel: &ChannelName,
) -> Result<(), ApiError> {
    if let Caller::User { app, actor } = caller {
        app.app.check_subscribe(&actor.user, channel, Grant::None)?;
        chat::rooms::check_member(server, app, channel, &actor.user).await?;
    }
    Ok(())
}

/// `GET /api/v1/channels/{channel}/messages?before=&after=&around=&order=&limit=`.
pub async fn list(
    State(server): State<Arc<ServerState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    cursor: Result<Query<MessagesCursor>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(cursor) = cursor
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let channel = channel(&name)?;
    check_reader(&server, &caller, &channel).await?;
    let viewer = match &caller {
        Caller::Backend(_) => chat::moderation::Viewer::server(),
        Caller::User { app, actor } => {
            chat::moderation::check_subscribe(&server, app, &channel, &actor.user).await?;
            chat::moderation::viewer(&server, app, Some(&channel), actor).await?
        }
    };
    let page = chat::messages_json(&server, caller.app(), &channel, cursor, &viewer).await?;
    Ok(json_response(page))
}

/// `POST /api/v1/channels/{channel}/messages {text, ...}`: a user sends as
/// themselves (with their limits); a backend names `user`.
pub async fn post(
    State(server): State<Arc<ServerState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let channel = channel(&name)?;
    if body.channel.as_deref().is_some_and(|named| named != name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body names another channel",
        ));
    }
    check_reader(&server, &caller, &channel).await?;
    let actor = match &caller {
        Caller::User { actor, .. } if body.user.is_none() => actor.clone(),
        Caller::User { .. } => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "users send as themselves: drop user",
            ));
        }
        Caller::Backend(_) => Actor {
            user: Arc::from(body.user.as_deref().unwrap_or("system")),
            moderator: true,
            limited: false,
        },
    };
    Ok(sent_response(
        chat::send(&server, caller.app(), &channel, &actor, body).await?,
    ))
}

/// 201 with a new message; 200 with the message a resend with the same
/// `client_msg_id` found, since that request created nothing.
fn sent_response(outcome: chat::SendOutcome) -> Response {
    let (status, message) = match outcome {
        chat::SendOutcome::Created(message) => (StatusCode::CREATED, message),
        chat::SendOutcome::Resent(message) => (StatusCode::OK, message),
    };
    (status, json_response(json::message_json(&message))).into_response()
}
