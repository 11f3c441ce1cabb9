//! Looking at the node: active channels, node info, and disconnecting users.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::extract::{ApiApp, ApiJson};
use crate::chat::Chat;
use crate::cluster::Cluster;
use crate::cluster::control::ControlAction;
use crate::cluster::occupancy::channel_counts;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelsQuery {
    #[serde(default)]
    prefix: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelEntry {
    channel: String,
    subscribers: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    channels: Vec<ChannelEntry>,
}

/// `GET /api/v1/channels?prefix=` → the app's active channels with their
/// subscriber counts, sorted by name; with several nodes, the deployment's
/// (503 when Redis cannot be reached).
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    params(ChannelsQuery),
    responses((status = 200, description = "The app's active channels.", body = ChannelList)),
    security(("api_key" = [])),
)]
pub async fn channels(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    query: Result<Query<ChannelsQuery>, QueryRejection>,
) -> Result<Json<ChannelList>, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let cluster = chat.control().cluster().map(|cluster| &**cluster);
    let channels = channel_counts(cluster, &app.app, &query.prefix)
        .await
        .map_err(|error| ApiError::from(parley_core::Error::from(error)))?
        .into_iter()
        .map(|(channel, subscribers)| ChannelEntry {
            channel,
            subscribers,
        })
        .collect();
    Ok(Json(ChannelList { channels }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DisconnectBody {
    user: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Disconnected {
    disconnected: usize,
    /// With several nodes: whether the other nodes were told.
    #[serde(skip_serializing_if = "Option::is_none")]
    other_nodes: Option<&'static str>,
}

/// `POST /api/v1/disconnect {user}` closes every connection of the user,
/// on every node.
#[utoipa::path(
    post,
    path = "/api/v1/disconnect",
    tag = "channels",
    request_body = DisconnectBody,
    responses((status = 200, description = "How many connections were closed here.", body = Disconnected)),
    security(("api_key" = [])),
)]
pub async fn disconnect(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<DisconnectBody>,
) -> Result<Json<Disconnected>, ApiError> {
    let action = ControlAction::DisconnectUser {
        user: body.user,
        signed_in: false,
    };
    let reach = chat.control().act(&app, action).await;
    Ok(Json(Disconnected {
        disconnected: reach.local,
        other_nodes: reach.other_nodes.as_field(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Info {
    node: String,
    version: &'static str,
    uptime_seconds: u64,
    app: String,
    connections: usize,
    subscriptions: usize,
    channels: usize,
    /// With several nodes: the deployment's live nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterInfo>,
}

/// The deployment as the node registry shows it, for the calling app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClusterInfo {
    /// This node's name.
    node: String,
    /// Whether the registry could be read; without it, no nodes or totals.
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<Vec<NodeEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions: Option<u64>,
}

/// One live node and the calling app's figures on it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NodeEntry {
    name: String,
    number: String,
    started_at_ms: u64,
    connections: u64,
    subscriptions: u64,
    channels: u64,
}

/// `GET /api/v1/info`: the node, and the calling app on it; in a cluster
/// also every live node, with the app's figures on each and their totals.
/// Other apps' figures are not shown.
#[utoipa::path(
    get,
    path = "/api/v1/info",
    tag = "channels",
    responses((status = 200, description = "The node and the app on it.", body = Info)),
    security(("api_key" = [])),
)]
pub async fn info(State(chat): State<Chat>, ApiApp(app): ApiApp) -> Json<Info> {
    let node = chat.node().info();
    let hub = &app.app.hub;
    let cluster = match chat.control().cluster() {
        Some(cluster) => Some(cluster_info(cluster, &app.app.id).await),
        None => None,
    };
    Json(Info {
        node: node.number.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: node.uptime.as_secs(),
        app: app.app.id.to_string(),
        connections: hub.connection_count(),
        subscriptions: hub.subscription_count(),
        channels: hub.channel_count(),
        cluster,
    })
}

async fn cluster_info(cluster: &Cluster, app: &str) -> ClusterInfo {
    let nodes = match cluster.registry.nodes().await {
        Ok(nodes) => nodes,
        Err(error) => {
            tracing::warn!(node = %cluster.node(), %error, "cannot read the node registry");
            return ClusterInfo {
                node: cluster.node().to_owned(),
                reachable: false,
                nodes: None,
                connections: None,
                subscriptions: None,
            };
        }
    };
    let nodes: Vec<NodeEntry> = nodes
        .into_iter()
        .map(|report| {
            let figures = report.apps.get(app).copied().unwrap_or_default();
            NodeEntry {
                name: report.name,
                number: report.number,
                started_at_ms: report.started_at_ms,
                connections: figures.connections,
                subscriptions: figures.subscriptions,
                channels: figures.channels,
            }
        })
        .collect();
    ClusterInfo {
        node: cluster.node().to_owned(),
        reachable: true,
        connections: Some(nodes.iter().map(|node| node.connections).sum()),
        subscriptions: Some(nodes.iter().map(|node| node.subscriptions).sum()),
        nodes: Some(nodes),
    }
}
