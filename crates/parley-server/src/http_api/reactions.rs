//! Reactions over HTTP, for clients without a socket: a user (their JWT)
//! adds or removes their reaction with `PUT` or `DELETE` on
//! `/api/v1/messages/{id}/reactions/{emoji}` or
//! `/api/v1/channels/{channel}/reactions/{emoji}` (the emoji
//! percent-encoded); `GET /api/v1/channels/{channel}/reactions` reads a
//! channel's own reactions (with an API key too, then `me` is false).

use parley_store::ReactionAction;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::{ChannelName, Grant};

use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::reactions::{self, ReactionRequest};
use crate::chat::{Actor, Chat};
use crate::json;
use crate::state::AppContext;

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The reacting user: reactions are a user's own, so an API key cannot
/// make them.
fn reacting_user(caller: Caller) -> Result<(Arc<AppContext>, Actor), ApiError> {
    match caller {
        Caller::User { app, actor } => Ok((app, actor)),
        Caller::Backend(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reactions are made with a user's token, not an API key",
        )),
    }
}

async fn change(
    chat: &Chat,
    caller: Caller,
    request: ReactionRequest,
    action: ReactionAction,
) -> Result<Response, ApiError> {
    let (app, actor) = reacting_user(caller)?;
    let (channel, target) = reactions::target(chat, &app, &actor, &request).await?;
    app.app
        .check_subscribe(&actor.user, &channel, Grant::None)?;
    let reacted =
        reactions::react(chat, &app, &actor, &channel, target, request.emoji, action).await?;
    Ok(json_response(json::reacted_json(&reacted, action)))
}

fn on_message(id: String, emoji: String) -> ReactionRequest {
    ReactionRequest {
        message_id: Some(id),
        channel: None,
        emoji,
    }
}

fn on_channel(channel: String, emoji: String) -> ReactionRequest {
    ReactionRequest {
        message_id: None,
        channel: Some(channel),
        emoji,
    }
}

/// `PUT /api/v1/messages/{id}/reactions/{emoji}`.
#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    tag = "reactions",
    params(("id" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "The reaction after the change.", body = crate::json::schema::ReactedShape)),
    security(("user_token" = [])),
)]
pub async fn add_to_message(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    change(&chat, caller, on_message(id, emoji), ReactionAction::Add).await
}

/// `DELETE /api/v1/messages/{id}/reactions/{emoji}`.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    tag = "reactions",
    params(("id" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "The reaction after the change.", body = crate::json::schema::ReactedShape)),
    security(("user_token" = [])),
)]
pub async fn remove_from_message(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    change(&chat, caller, on_message(id, emoji), ReactionAction::Remove).await
}

/// `PUT /api/v1/channels/{channel}/reactions/{emoji}`.
#[utoipa::path(
    put,
    path = "/api/v1/channels/{channel}/reactions/{emoji}",
    tag = "reactions",
    params(("channel" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "The reaction after the change.", body = crate::json::schema::ReactedShape)),
    security(("user_token" = [])),
)]
pub async fn add_to_channel(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath((channel, emoji)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    change(
        &chat,
        caller,
        on_channel(channel, emoji),
        ReactionAction::Add,
    )
    .await
}

/// `DELETE /api/v1/channels/{channel}/reactions/{emoji}`.
#[utoipa::path(
    delete,
    path = "/api/v1/channels/{channel}/reactions/{emoji}",
    tag = "reactions",
    params(("channel" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "The reaction after the change.", body = crate::json::schema::ReactedShape)),
    security(("user_token" = [])),
)]
pub async fn remove_from_channel(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath((channel, emoji)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    change(
        &chat,
        caller,
        on_channel(channel, emoji),
        ReactionAction::Remove,
    )
    .await
}

/// `GET /api/v1/channels/{channel}/reactions`.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/reactions",
    tag = "reactions",
    params(("channel" = String, Path)),
    responses((status = 200, description = "The channel's own reactions.", body = crate::json::schema::ChannelReactionsShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn channel_reactions(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let channel = ChannelName::new(&name).map_err(parley_core::Error::from)?;
    let (app, reader) = match &caller {
        Caller::User { app, actor } => {
            app.app
                .check_subscribe(&actor.user, &channel, Grant::None)?;
            crate::chat::rooms::check_member(&chat, app, &channel, &actor.user).await?;
            (app, Some(&*actor.user))
        }
        Caller::Backend(app) => (app, None),
    };
    let counts = reactions::channel_reactions(&chat, app, &channel, reader).await?;
    Ok(json_response(json::channel_reactions_json(
        &channel, &counts,
    )))
}
