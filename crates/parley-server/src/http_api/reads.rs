//! Read marks over HTTP: the forms of the native `read_mark` and
//! `mark_unread`. (A user's unread counts are `GET
//! /api/v1/users/{user}/unread`, in `rooms.rs`.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_store::ReadDirection;
use serde::Deserialize;

use super::acting::{acting_user, channel, check_readable, json_response};
use super::extract::ApiJson;
use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::{Chat, reads};
use crate::json;

/// The body of `POST /api/v1/channels/{channel}/read`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkBody {
    /// A backend's: the reader.
    user: Option<String>,
    /// A message of the channel.
    message_id: String,
    /// `true` moves the marker back (`mark_unread`): the message and
    /// everything after it are unread again.
    #[serde(default)]
    unread: bool,
}

/// `POST /api/v1/channels/{channel}/read {message_id, user?, unread?}`:
/// moves the user's read marker forward to the message, or with
/// `unread: true` back to it. Answers as the native method:
/// `{"channel", "user", "last_read_offset", "unread", "moved"}`. With
/// `read_receipts = "room"` subscribers get `read_updated`.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channel}/read",
    tag = "reads",
    params(("channel" = String, Path)), request_body = MarkBody,
    responses((status = 200, description = "The read marker.", body = crate::json::schema::ReadChangeShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn mark(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<MarkBody>,
) -> Result<Response, ApiError> {
    let actor = acting_user(&caller, body.user.as_deref())?;
    let channel = channel(&name)?;
    check_readable(&chat, caller.app(), &caller, &actor, &channel).await?;
    let direction = if body.unread {
        ReadDirection::Back
    } else {
        ReadDirection::Forward
    };
    let change = reads::mark(
        &chat,
        caller.app(),
        &channel,
        &actor.user,
        &body.message_id,
        direction,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        json::reads::change_json(&change),
    ))
}
