//! Publishing from the server: one channel, several channels, a batch.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use parley_core::{App, ChannelName, StreamPosition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ApiError;
use super::extract::{ApiApp, ApiJson};
use crate::chat::Chat;
use crate::state::AppContext;

/// The most channels (or publications) one broadcast (or batch) may name.
const MAX_TARGETS: usize = 1000;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PublishBody {
    channel: String,
    #[schema(value_type = serde_json::Value)]
    data: Box<RawValue>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BroadcastBody {
    channels: Vec<String>,
    #[schema(value_type = serde_json::Value)]
    data: Box<RawValue>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchBody {
    publications: Vec<PublishBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Position {
    offset: u64,
    #[schema(value_type = String)]
    epoch: Arc<str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelPosition {
    channel: String,
    offset: u64,
    #[schema(value_type = String)]
    epoch: Arc<str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Results {
    results: Vec<ChannelPosition>,
}

/// Checks a target before anything is published, so a request either
/// publishes everything or nothing it can check up front.
fn check(app: &App, channel: &str, data: &RawValue) -> Result<ChannelName, ApiError> {
    let channel = ChannelName::new(channel).map_err(parley_core::Error::from)?;
    let namespace = app.namespace(&channel)?;
    if data.get().len() > namespace.max_message_bytes {
        return Err(parley_core::Error::MessageTooLarge(namespace.max_message_bytes).into());
    }
    Ok(channel)
}

fn check_count(count: usize, what: &str) -> Result<(), ApiError> {
    if count == 0 || count > MAX_TARGETS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what} must name 1 to {MAX_TARGETS} targets"),
        ));
    }
    Ok(())
}

async fn publish_checked(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    data: &RawValue,
) -> Result<StreamPosition, ApiError> {
    let data = Bytes::copy_from_slice(data.get().as_bytes());
    Ok(chat.node().publish(&app.app, channel, data, None).await?)
}

/// `POST /api/v1/publish {channel, data}` → `{offset, epoch}`.
#[utoipa::path(
    post,
    path = "/api/v1/publish",
    tag = "publish",
    request_body = PublishBody,
    responses((status = 200, description = "The publication's stream position.", body = Position)),
    security(("api_key" = [])),
)]
pub async fn publish(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<Position>, ApiError> {
    let channel = check(&app.app, &body.channel, &body.data)?;
    let position = publish_checked(&chat, &app, &channel, &body.data).await?;
    Ok(Json(Position {
        offset: position.offset,
        epoch: position.epoch,
    }))
}

/// `POST /api/v1/broadcast {channels, data}` → `{results: [{channel, offset, epoch}]}`.
#[utoipa::path(
    post,
    path = "/api/v1/broadcast",
    tag = "publish",
    request_body = BroadcastBody,
    responses((status = 200, description = "Each channel's position, in the order given.", body = Results)),
    security(("api_key" = [])),
)]
pub async fn broadcast(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<BroadcastBody>,
) -> Result<Json<Results>, ApiError> {
    check_count(body.channels.len(), "channels")?;
    let targets = body
        .channels
        .iter()
        .map(|channel| (channel.as_str(), &*body.data));
    publish_all(&chat, &app, targets).await
}

/// `POST /api/v1/batch {publications: [{channel, data}]}` → `{results: [...]}`,
/// in the order given.
#[utoipa::path(
    post,
    path = "/api/v1/batch",
    tag = "publish",
    request_body = BatchBody,
    responses((status = 200, description = "Each publication's position, in the order given.", body = Results)),
    security(("api_key" = [])),
)]
pub async fn batch(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Json<Results>, ApiError> {
    check_count(body.publications.len(), "publications")?;
    let targets = body
        .publications
        .iter()
        .map(|publication| (publication.channel.as_str(), &*publication.data));
    publish_all(&chat, &app, targets).await
}

/// Checks every target, then publishes them in order.
async fn publish_all<'a>(
    chat: &Chat,
    app: &AppContext,
    targets: impl Iterator<Item = (&'a str, &'a RawValue)>,
) -> Result<Json<Results>, ApiError> {
    let checked = targets
        .map(|(channel, data)| Ok((check(&app.app, channel, data)?, data)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut results = Vec::with_capacity(checked.len());
    for (channel, data) in checked {
        let position = publish_checked(chat, app, &channel, data).await?;
        results.push(ChannelPosition {
            channel: channel.to_string(),
            offset: position.offset,
            epoch: position.epoch,
        });
    }
    Ok(Json(Results { results }))
}
