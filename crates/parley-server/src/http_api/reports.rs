//! Filing a report over HTTP: the form of the native `report`. (Listing
//! and resolving the queue are moderators' routes, in `moderation.rs`.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::ApiError;
use super::acting::{acting_user, check_readable, json_response};
use super::extract::ApiJson;
use super::extract::Caller;
use crate::chat::{self, Chat, reports};
use crate::json;

/// The body of `POST /api/v1/reports`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// A backend's: the reporting user.
    user: Option<String>,
    /// A message of a channel the reporter may read.
    message_id: String,
    /// Why, 1 to 500 characters.
    reason: String,
}

/// `POST /api/v1/reports {message_id, reason, user?}`: files the user's
/// report into the moderation queue; reporting a message again answers
/// the first report.
#[utoipa::path(
    post,
    path = "/api/v1/reports",
    tag = "moderation",
    request_body = ReportBody,
    responses((status = 200, description = "The report filed.", body = crate::json::schema::ReportShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn file(
    State(chat): State<Chat>,
    caller: Caller,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<Response, ApiError> {
    let actor = acting_user(&caller, body.user.as_deref())?;
    let app = caller.app();
    let id = chat::parse_id(&body.message_id)?;
    let channel = chat::message_channel(&chat, app, id).await?;
    check_readable(&chat, app, &caller, &actor, &channel).await?;
    let report = reports::report(&chat, app, &actor, id, &body.reason).await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::report_json(&report),
    ))
}
