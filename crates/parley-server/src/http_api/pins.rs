//! Pins over HTTP: the forms of the native `message_pin`, `message_unpin`
//! and `pins`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use parley_store::PinAction;
use serde::Deserialize;

use super::acting::{acting_user_or_system, channel, check_readable, json_response, viewer};
use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::{self, Chat, ChatError, pins};

/// `?user=`: a backend's, the user to act for.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    user: Option<String>,
}

fn user_query(query: Result<Query<UserQuery>, QueryRejection>) -> Result<UserQuery, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

async fn change(
    chat: &Chat,
    caller: Caller,
    id: &str,
    query: Result<Query<UserQuery>, QueryRejection>,
    action: PinAction,
) -> Result<Response, ApiError> {
    let query = user_query(query)?;
    let actor = acting_user_or_system(&caller, query.user.as_deref())?;
    let app = caller.app();
    let message = chat
        .store()
        .message(&app.app.id, chat::parse_id(id)?)
        .await
        .map_err(ChatError::from)?;
    check_readable(chat, app, &caller, &actor, &message.channel).await?;
    let pinned = pins::change(chat, app, &message.channel, &actor, id, action).await?;
    let data = pins::pin_data(&pinned.pin);
    let body = String::from_utf8_lossy(&data).into_owned();
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /api/v1/messages/{id}/pin?user=`: pins the message in its
/// channel, with the native rules for the acting user (token moderators,
/// a room's owner and moderators, or everyone with `pins = "members"`).
/// Subscribers get `message_pinned`.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/pin",
    tag = "pins",
    params(("id" = String, Path), UserQuery),
    responses((status = 200, description = "The pin.", body = serde_json::Value)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn pin(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    change(&chat, caller, &id, query, PinAction::Pin).await
}

/// `DELETE /api/v1/messages/{id}/pin?user=`: unpins it; subscribers get
/// `message_unpinned`.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}/pin",
    tag = "pins",
    params(("id" = String, Path), UserQuery),
    responses((status = 200, description = "The pin removed.", body = serde_json::Value)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn unpin(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    change(&chat, caller, &id, query, PinAction::Unpin).await
}

/// `GET /api/v1/channels/{channel}/pins?user=`: the channel's pins, most
/// recent first, as the acting user sees them (everything for `system`).
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/pins",
    tag = "pins",
    params(("channel" = String, Path), UserQuery),
    responses((status = 200, description = "The channel's pinned messages.", body = crate::json::schema::PinsShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn list(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = user_query(query)?;
    let actor = acting_user_or_system(&caller, query.user.as_deref())?;
    let app = caller.app();
    let channel = channel(&name)?;
    check_readable(&chat, app, &caller, &actor, &channel).await?;
    let viewer = viewer(&chat, app, Some(&channel), &actor).await?;
    let body = pins::pins_json(&chat, app, &channel, &viewer).await?;
    Ok(json_response(StatusCode::OK, body))
}
