//! A user's block list over HTTP, for a backend (API key): the forms of
//! the native `block`, `unblock` and `blocks`. A change takes effect on
//! the user's live connections at once, as a native `block` does.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::acting::{json_response, named_user};
use super::extract::ApiApp;
use super::{ApiError, ApiPath};
use crate::chat::{Chat, moderation};
use crate::json;

/// `POST /api/v1/users/{user}/blocks/{blocked}`: `{user}` blocks
/// `{blocked}`; the answer is the whole list after the change.
#[utoipa::path(
    post,
    path = "/api/v1/users/{user}/blocks/{blocked}",
    tag = "blocks",
    params(("user" = String, Path), ("blocked" = String, Path)),
    responses((status = 200, description = "The block list after the change.", body = crate::json::schema::BlocksShape)),
    security(("api_key" = [])),
)]
pub async fn block(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath((user, blocked)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = named_user(&user)?;
    let blocks = moderation::block(&chat, &app, &actor, &blocked).await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::blocks_json(&blocks),
    ))
}

/// `DELETE /api/v1/users/{user}/blocks/{blocked}`: the list after the
/// change (unblocking someone not blocked is harmless).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{user}/blocks/{blocked}",
    tag = "blocks",
    params(("user" = String, Path), ("blocked" = String, Path)),
    responses((status = 200, description = "The block list after the change.", body = crate::json::schema::BlocksShape)),
    security(("api_key" = [])),
)]
pub async fn unblock(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath((user, blocked)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = named_user(&user)?;
    let blocks = moderation::unblock(&chat, &app, &actor, &blocked).await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::blocks_json(&blocks),
    ))
}

/// `GET /api/v1/users/{user}/blocks`: `{"blocks": [...]}`, sorted.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user}/blocks",
    tag = "blocks",
    params(("user" = String, Path)),
    responses((status = 200, description = "The user's block list.", body = crate::json::schema::BlocksShape)),
    security(("api_key" = [])),
)]
pub async fn list(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(user): ApiPath<String>,
) -> Result<Response, ApiError> {
    let actor = named_user(&user)?;
    let blocks = moderation::blocks(&chat, &app, &actor).await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::blocks_json(&blocks),
    ))
}
