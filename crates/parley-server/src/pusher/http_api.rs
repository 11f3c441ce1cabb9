//! The Pusher HTTP API on `/apps/{app_id}/...`. Every handler takes a
//! [`SignedRequest`], so it runs only for a request signed with the app's
//! secret as the Pusher server SDKs sign.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parley_core::{ChannelName, ClientId, ClientInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cache::{CachedEvent, is_cache_channel};
use super::signed_request::SignedRequest;
use crate::cluster::control::{ControlAction, OtherNodes};
use crate::cluster::occupancy::{channel_counts, subscriber_counts};
use crate::http_api::ApiError;
use crate::state::{AppContext, ServerState};

/// Channels one trigger may name.
const MAX_CHANNELS: usize = 100;
/// Events one batch may hold.
const MAX_BATCH: usize = 10;
/// The longest event name.
const MAX_EVENT_NAME: usize = 200;

/// The routes of the Pusher HTTP API.
pub fn router() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/apps/{app_id}/events", post(events))
        .route("/apps/{app_id}/batch_events", post(batch_events))
        .route("/apps/{app_id}/channels", get(channels))
        .route("/apps/{app_id}/channels/{channel}", get(channel))
        .route("/apps/{app_id}/channels/{channel}/users", get(users))
        .route(
            "/apps/{app_id}/users/{user_id}/terminate_connections",
            post(terminate_connections),
        )
        // The path the Python SDK's `terminate_user_connections` posts to:
        // no app id, the app is the one whose `auth_key` signed it.
        .route(
            "/users/{user_id}/terminate_connections",
            post(terminate_connections),
        )
}

/// The `{channel}` of a channel route (its `{app_id}` is the signed app's).
#[derive(Deserialize)]
struct ChannelPath {
    channel: String,
}

/// The `{user_id}` of a user route.
#[derive(Deserialize)]
struct UserPath {
    user_id: String,
}

#[derive(Deserialize)]
struct Trigger {
    name: String,
    data: String,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    socket_id: Option<String>,
    #[serde(default)]
    info: Option<String>,
}

#[derive(Deserialize)]
struct Batch {
    batch: Vec<Trigger>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    event: &'a str,
    data: &'a str,
}

#[derive(Serialize, Default)]
struct ChannelInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_count: Option<usize>,
}

async fn events(
    State(server): State<Arc<ServerState>>,
    SignedRequest { app, body, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    let trigger: Trigger = parse(&body)?;
    let channels = match (trigger.channels.clone(), trigger.channel.clone()) {
        (Some(channels), None) => channels,
        (None, Some(channel)) => vec![channel],
        _ => return Err(bad_request("give either channels or channel")),
    };
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        return Err(bad_request("channels must hold 1 to 100 names"));
    }
    if channels.len() > 1
        && channels
            .iter()
            .any(|channel| channel.starts_with("private-encrypted-"))
    {
        return Err(bad_request(
            "an event to an encrypted channel names that channel alone",
        ));
    }
    let info = trigger_one(&server, &app, &trigger, &channels).await?;
    Ok(axum::Json(info).into_response())
}

async fn batch_events(
    State(server): State<Arc<ServerState>>,
    SignedRequest { app, body, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    let batch: Batch = parse(&body)?;
    if batch.batch.len() > MAX_BATCH {
        return Err(bad_request("a batch holds at most 10 events"));
    }
    for trigger in &batch.batch {
        if trigger.channel.is_none() {
            return Err(bad_request("each batch event needs a channel"));
        }
        check_trigger(&app, trigger)?;
    }
    let mut infos = Vec::new();
    for trigger in &batch.batch {
        let channel = trigger.channel.clone().unwrap_or_default();
        let info = trigger_one(&server, &app, trigger, std::slice::from_ref(&channel)).await?;
        infos.push(
            info.get("channels")
                .and_then(|c| c.get(&channel))
                .cloned()
                .unwrap_or(json!({})),
        );
    }
    let wants_info = batch.batch.iter().any(|trigger| trigger.info.is_some());
    Ok(axum::Json(if wants_info {
        json!({"batch": infos})
    } else {
        json!({})
    })
    .into_response())
}

fn check_trigger(app: &AppContext, trigger: &Trigger) -> Result<(), ApiError> {
    if trigger.name.is_empty() || trigger.name.len() > MAX_EVENT_NAME {
        return Err(bad_request("event name must be 1 to 200 characters"));
    }
    if trigger.data.len() > app.config.pusher.max_message_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "event data is over the size limit",
        ));
    }
    Ok(())
}

/// Publishes one event to `channels` and returns the `info` asked for.
async fn trigger_one(
    server: &ServerState,
    app: &AppContext,
    trigger: &Trigger,
    channels: &[String],
) -> Result<Value, ApiError> {
    check_trigger(app, trigger)?;
    let names = channels
        .iter()
        .map(|name| ChannelName::new(name).map_err(|_| bad_request("invalid channel name")))
        .collect::<Result<Vec<_>, _>>()?;
    let data = serde_json::to_string(&Envelope {
        event: &trigger.name,
        data: &trigger.data,
    })
    .expect("events serialize to JSON");
    let data = Bytes::from(data);
    // The connection named by `socket_id` does not get the event: the hub
    // skips a publication's own publisher on Pusher connections.
    let excluded = trigger
        .socket_id
        .as_deref()
        .map(parse_socket_id)
        .transpose()?;
    for channel in &names {
        if is_cache_channel(channel.as_str()) {
            server
                .pusher
                .cache
                .keep(
                    &app.app.id,
                    channel.as_str(),
                    CachedEvent {
                        event: trigger.name.clone(),
                        data: serde_json::to_string(&trigger.data)
                            .expect("strings serialize to JSON"),
                    },
                    app.config.pusher.cache_ttl,
                )
                .await;
        }
        let info = excluded.map(|client| ClientInfo {
            client,
            user: Arc::from(""),
            info: None,
        });
        server
            .node
            .publish(&app.app, channel, data.clone(), info)
            .await
            .map_err(|error| {
                tracing::error!(?error, "pusher trigger failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            })?;
    }
    let Some(wanted) = &trigger.info else {
        return Ok(json!({}));
    };
    let mut infos = serde_json::Map::new();
    for channel in &names {
        let subscribers = subscribers_of(server, app, channel).await?;
        let info = channel_info(server, app, channel, subscribers, wanted).await;
        infos.insert(channel.as_str().to_owned(), json!(info));
    }
    Ok(json!({"channels": infos}))
}

/// A channel's subscribers: the deployment's with several nodes (503 when
/// Redis cannot be reached), else this node's.
async fn subscribers_of(
    server: &ServerState,
    app: &AppContext,
    channel: &ChannelName,
) -> Result<usize, ApiError> {
    let counts = subscriber_counts(server.cluster.as_deref(), &app.app, &[channel])
        .await
        .map_err(|error| ApiError::from(parley_core::Error::from(error)))?;
    Ok(counts.first().copied().unwrap_or(0))
}

/// The `info` asked for of a channel with `subscribers`; `user_count`
/// comes from presence, through the node.
async fn channel_info(
    server: &ServerState,
    app: &AppContext,
    channel: &ChannelName,
    subscribers: usize,
    wanted: &str,
) -> ChannelInfo {
    let mut info = ChannelInfo::default();
    for field in wanted.split(',') {
        match field {
            "user_count" if channel.as_str().starts_with("presence-") => {
                let stats = server.node.presence_stats(&app.app, channel).await;
                info.user_count = Some(stats.map_or(0, |stats| stats.num_users));
            }
            "subscription_count" => info.subscription_count = Some(subscribers),
            _ => {}
        }
    }
    info
}

#[derive(Deserialize)]
struct ChannelsQuery {
    #[serde(default)]
    filter_by_prefix: Option<String>,
    #[serde(default)]
    info: Option<String>,
}

fn query_of<T: serde::de::DeserializeOwned>(params: &[(String, String)]) -> Result<T, ApiError> {
    let pairs: serde_json::Map<String, Value> = params
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    serde_json::from_value(Value::Object(pairs)).map_err(|error| bad_request(error.to_string()))
}

async fn channels(
    State(server): State<Arc<ServerState>>,
    SignedRequest { app, params, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    let query: ChannelsQuery = query_of(&params)?;
    let prefix = query.filter_by_prefix.unwrap_or_default();
    let wanted = query.info.unwrap_or_default();
    if wanted.split(',').any(|field| field == "user_count") && !prefix.starts_with("presence-") {
        return Err(bad_request(
            "info=user_count needs filter_by_prefix=presence-",
        ));
    }
    let listed = channel_counts(server.cluster.as_deref(), &app.app, &prefix)
        .await
        .map_err(|error| ApiError::from(parley_core::Error::from(error)))?;
    let mut channels = serde_json::Map::new();
    for (name, subscribers) in listed {
        let Ok(channel) = ChannelName::new(&name) else {
            continue;
        };
        if subscribers == 0 {
            continue;
        }
        let info = channel_info(&server, &app, &channel, subscribers, &wanted).await;
        channels.insert(name, json!(info));
    }
    Ok(axum::Json(json!({"channels": channels})).into_response())
}

async fn channel(
    State(server): State<Arc<ServerState>>,
    Path(ChannelPath { channel: name }): Path<ChannelPath>,
    SignedRequest { app, params, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    let query: ChannelsQuery = query_of(&params)?;
    let channel = ChannelName::new(&name).map_err(|_| bad_request("invalid channel name"))?;
    let wanted = query.info.unwrap_or_default();
    if wanted.split(',').any(|field| field == "user_count") && !name.starts_with("presence-") {
        return Err(bad_request("user_count is only for presence channels"));
    }
    let subscribers = subscribers_of(&server, &app, &channel).await?;
    let info = channel_info(&server, &app, &channel, subscribers, &wanted).await;
    let mut body = json!(info);
    body["occupied"] = json!(subscribers > 0);
    Ok(axum::Json(body).into_response())
}

async fn users(
    State(server): State<Arc<ServerState>>,
    Path(ChannelPath { channel: name }): Path<ChannelPath>,
    SignedRequest { app, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    if !name.starts_with("presence-") {
        return Err(bad_request("users are listed for presence channels only"));
    }
    let channel = ChannelName::new(&name).map_err(|_| bad_request("invalid channel name"))?;
    let mut users = Vec::new();
    let mut after: Option<Arc<str>> = None;
    loop {
        let page = server
            .node
            .presence_members(&app.app, &channel, after.as_deref(), 1000)
            .await
            .map_err(|error| {
                tracing::error!(%error, "presence members failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            })?;
        users.extend(
            page.members
                .iter()
                .map(|member| json!({"id": &*member.user})),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(axum::Json(json!({"users": users})).into_response())
}

/// Closes every connection of a user: Pusher connections signed in as the
/// user, and native connections of that user id.
async fn terminate_connections(
    State(server): State<Arc<ServerState>>,
    Path(UserPath { user_id: user }): Path<UserPath>,
    SignedRequest { app, .. }: SignedRequest,
) -> Result<Response, ApiError> {
    if user.is_empty() || user.len() > app.config.pusher.max_user_id_bytes {
        return Err(bad_request("invalid user id"));
    }
    let action = ControlAction::DisconnectUser {
        user,
        signed_in: true,
    };
    let reach = server.chat.control().act(&app, action).await;
    // Pusher's answer is `{}`; a cluster that could not tell the other
    // nodes says so.
    let body = if reach.other_nodes == OtherNodes::Unreachable {
        json!({"other_nodes": "unreachable"})
    } else {
        json!({})
    };
    Ok(axum::Json(body).into_response())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| bad_request(format!("invalid body: {error}")))
}

fn parse_socket_id(socket_id: &str) -> Result<ClientId, ApiError> {
    socket_id
        .split_once('.')
        .and_then(|(node, sequence)| {
            Some(ClientId {
                node: node.parse().ok()?,
                sequence: sequence.parse().ok()?,
            })
        })
        .ok_or_else(|| bad_request("invalid socket_id"))
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}
