//! Chat and history over HTTP: for backends (API key) and for clients
//! without a socket (the user's JWT).

use parley_store::DeleteMode;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::{ChannelName, Grant};
use serde::Deserialize;

use super::extract::{ApiApp, ApiJson, Caller};
use super::{ApiError, ApiPath};
use crate::chat::{self, Actor, Chat, MessagesCursor, SendRequest};
use crate::json;

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn channel(name: &str) -> Result<ChannelName, ApiError> {
    Ok(ChannelName::new(name).map_err(parley_core::Error::from)?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    #[param(example = "chat:lobby")]
    channel: String,
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
    /// `true`: the page also gives `total`, the channel's message count
    /// (of a persisted channel).
    #[serde(default)]
    total: bool,
}

/// `GET /api/v1/history?channel=&limit=&before=&after=&total=`: a page of a
/// persisted channel's stream.
#[utoipa::path(
    get,
    path = "/api/v1/history",
    tag = "messages",
    params(HistoryParams),
    responses((status = 200, description = "A page of the channel's stream.", body = crate::json::schema::HistoryPageShape)),
    security(("api_key" = [])),
)]
pub async fn history(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let channel = channel(&params.channel)?;
    let page = chat::history_json(
        &chat,
        &app,
        &channel,
        chat::HistoryRange {
            before: params.before,
            after: params.after,
            limit: params.limit,
            total: params.total,
        },
        &chat::moderation::Viewer::server(),
    )
    .await?;
    Ok(json_response(page))
}

/// `POST /api/v1/messages {channel, text, user?, ...}`: sends as a user, or
/// as `system`. Message limits do not apply to the server API.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "messages",
    request_body = SendRequest,
    responses((status = 201, description = "The message sent.", body = crate::json::schema::MessageShape), (status = 200, description = "The message a resend with the same client_msg_id found.", body = crate::json::schema::MessageShape)),
    security(("api_key" = [])),
)]
pub async fn send(
    State(chat): State<Chat>,
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
        profile: Default::default(),
        moderator: true,
        limited: false,
    };
    Ok(sent_response(
        chat::send(&chat, &app, &channel, &actor, body).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    #[serde(default)]
    hard: bool,
}

/// `DELETE /api/v1/messages/{id}?hard=true`: moderation; soft by default.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    params(("id" = String, Path, example = "1"), DeleteParams),
    responses((status = 200, description = "The message, deleted.", body = crate::json::schema::MessageShape)),
    security(("api_key" = [])),
)]
pub async fn delete(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(id): ApiPath<String>,
    params: Result<Query<DeleteParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let actor = Actor {
        user: Arc::from("system"),
        profile: Default::default(),
        moderator: true,
        limited: false,
    };
    let message =
        chat::delete(&chat, &app, &id, &actor, DeleteMode::from_hard(params.hard)).await?;
    Ok(json_response(json::message_json(&message)))
}

/// Checks that a user may read a channel (for a room's, that they are a
/// member).
async fn check_reader(chat: &Chat, caller: &Caller, channel: &ChannelName) -> Result<(), ApiError> {
    if let Caller::User { app, actor } = caller {
        app.app.check_subscribe(&actor.user, channel, Grant::None)?;
        chat::rooms::check_member(chat, app, channel, &actor.user).await?;
    }
    Ok(())
}

/// `GET /api/v1/channels/{channel}/messages?before=&after=&around=&order=&limit=&total=`.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/messages",
    tag = "messages",
    params(("channel" = String, Path, example = "chat:lobby"), MessagesCursor),
    responses((status = 200, description = "A page of messages.", body = crate::json::schema::MessagePageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn list(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    cursor: Result<Query<MessagesCursor>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(cursor) = cursor
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let channel = channel(&name)?;
    check_reader(&chat, &caller, &channel).await?;
    let viewer = match &caller {
        Caller::Backend(_) => chat::moderation::Viewer::server(),
        Caller::User { app, actor } => {
            chat::moderation::check_subscribe(&chat, app, &channel, &actor.user).await?;
            chat::moderation::viewer(&chat, app, Some(&channel), actor).await?
        }
    };
    let page = chat::messages(&chat, caller.app(), &channel, cursor, &viewer).await?;
    Ok(json_response(json::pages::message_page_json(&page)))
}

/// `POST /api/v1/channels/{channel}/messages {text, ...}`: a user sends as
/// themselves (with their limits); a backend names `user`.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channel}/messages",
    tag = "messages",
    params(("channel" = String, Path, example = "chat:lobby")), request_body = SendRequest,
    responses((status = 201, description = "The message sent.", body = crate::json::schema::MessageShape), (status = 200, description = "The message a resend with the same client_msg_id found.", body = crate::json::schema::MessageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn post(
    State(chat): State<Chat>,
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
    check_reader(&chat, &caller, &channel).await?;
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
            profile: Default::default(),
            moderator: true,
            limited: false,
        },
    };
    Ok(sent_response(
        chat::send(&chat, caller.app(), &channel, &actor, body).await?,
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
