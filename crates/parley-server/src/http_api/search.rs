//! Search over the server API (API key).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::ChannelName;
use serde::Deserialize;

use super::ApiError;
use super::extract::ApiApp;
use crate::chat::{Actor, Chat, moderation, rooms, search};
use crate::json;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    query: String,
    user: Option<String>,
    channel: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/search?query=&user=&channel=&before=&limit=`: with `user`,
/// as that user would search (their rooms, or a channel they may read);
/// with only `channel`, that channel.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "messages",
    params(SearchQuery),
    responses((status = 200, description = "Matches, newest first.", body = crate::json::schema::MatchesShape)),
    security(("api_key" = [])),
)]
pub async fn search(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    params: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let channel = params
        .channel
        .as_deref()
        .map(ChannelName::new)
        .transpose()
        .map_err(parley_core::Error::from)?;
    match (&params.user, &channel) {
        (Some(user), Some(channel)) => {
            rooms::check_member(&chat, &app, channel, user).await?;
        }
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "give user, channel or both",
            ));
        }
    }
    // Results as the named user would see them in `messages`, or all of
    // them for the backend's own search of a channel.
    let viewer = match &params.user {
        Some(user) => {
            let actor = Actor {
                user: Arc::from(user.as_str()),
                profile: Default::default(),
                moderator: false,
                limited: true,
            };
            moderation::viewer(&chat, &app, channel.as_ref(), &actor).await?
        }
        None => moderation::Viewer::server(),
    };
    let matches = search::search(
        &chat,
        &app,
        channel.as_ref(),
        &params.query,
        params.before.as_deref(),
        params.limit,
        &viewer,
    )
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        json::pages::matches_json(&matches),
    )
        .into_response())
}
