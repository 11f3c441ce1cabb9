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
use crate::chat::{rooms, search};
use crate::state::ServerState;

#[derive(Deserialize)]
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
pub async fn search(
    State(server): State<Arc<ServerState>>,
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
    let user = match (&params.user, &channel) {
        (Some(user), Some(channel)) => {
            rooms::check_member(&server, &app, channel, user).await?;
            user.as_str()
        }
        (Some(user), None) => user.as_str(),
        (None, Some(_)) => "",
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "give user, channel or both",
            ));
        }
    };
    let page = search::search_json(
        &server,
        &app,
        user,
        channel.as_ref(),
        &params.query,
        params.before.as_deref(),
        params.limit,
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], page).into_response())
}
