//! Editing a message over HTTP, and reading its edit trail: the forms of
//! the native `message_edit` and `edit_trail`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::acting::{acting_user_or_system, json_response};
use super::extract::ApiJson;
use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::{self, Chat};
use crate::json;

/// The body of `PATCH /api/v1/messages/{id}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    /// The new text.
    text: String,
    /// A backend's: the author it edits for (default `system`).
    user: Option<String>,
}

/// `PATCH /api/v1/messages/{id} {text, user?}`: edits a message for its
/// author, with the native edit's rules (only the author edits; the text
/// limits and the filter; a room's membership and mutes for a user).
/// Subscribers get `message_updated`.
#[utoipa::path(
    patch,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    params(("id" = String, Path)), request_body = EditBody,
    responses((status = 200, description = "The message, edited.", body = crate::json::schema::MessageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn edit(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Response, ApiError> {
    let actor = acting_user_or_system(&caller, body.user.as_deref())?;
    let message = chat::edit(&chat, caller.app(), &id, &actor, body.text).await?;
    Ok(json_response(StatusCode::OK, json::message_json(&message)))
}

/// `GET /api/v1/messages/{id}/edits`: the texts the message had before its
/// edits, oldest first, as `{"revisions": [...]}`. A backend reads any
/// message's trail; a user only with a moderator's token, as natively.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/edits",
    tag = "messages",
    params(("id" = String, Path)),
    responses((status = 200, description = "The message's edit trail.", body = crate::json::schema::EditTrailShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn trail(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    if let Caller::User { actor, .. } = &caller
        && !actor.moderator
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "moderators only"));
    }
    let id = chat::parse_id(&id)?;
    let revisions = chat::edit_trail(&chat, caller.app(), id).await?;
    Ok(json_response(
        StatusCode::OK,
        json::edit_trail_json(&revisions),
    ))
}
