//! Threads over HTTP: the form of the native `thread`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::acting::{acting_user_or_system, check_readable, json_response, viewer};
use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::{self, Chat, threads};
use crate::json;

/// `?before=&limit=&user=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    before: Option<String>,
    limit: Option<usize>,
    user: Option<String>,
}

/// `GET /api/v1/messages/{id}/thread?before=&limit=&user=`: a page of the
/// message's replies, `{"parent", "replies": [oldest first], "has_more"}`,
/// as the acting user sees them (everything for `system`).
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/thread",
    tag = "messages",
    params(("id" = String, Path), ThreadQuery),
    responses((status = 200, description = "The thread.", body = crate::json::schema::ThreadShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn thread(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<ThreadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let actor = acting_user_or_system(&caller, query.user.as_deref())?;
    let app = caller.app();
    // The viewer of the parent's channel, so that a room's moderators see
    // hidden replies there; a parent that does not exist is answered by
    // `threads::thread`.
    let parent = chat::parse_id(&id)?;
    let parent_channel = chat::message_channel(&chat, app, parent).await.ok();
    let viewer = viewer(&chat, app, parent_channel.as_ref(), &actor).await?;
    let reader = actor.limited.then_some(&*actor.user);
    let thread = threads::thread(
        &chat,
        app,
        reader,
        &id,
        query.before.as_deref(),
        query.limit,
        &viewer,
    )
    .await?;
    check_readable(&chat, app, &caller, &actor, &thread.channel).await?;
    Ok(json_response(
        StatusCode::OK,
        json::pages::thread_json(&thread),
    ))
}
