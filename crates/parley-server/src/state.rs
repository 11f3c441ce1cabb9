//! The state shared by every request and connection of one server. It
//! stays at the edge: the wiring (`server.rs`), the adapters' entry points
//! (the WebSocket upgrades, the sessions, the routers and extractors) and
//! the web pages. Everything past them takes what it needs: the chat
//! service ([`Chat`], also the HTTP handlers' state through [`FromRef`]),
//! the node, an app's context.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::extract::FromRef;
use parley_core::{App, MemoryPresence, Node};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::TokenKeys;
use crate::chat::Chat;
use crate::chat::limits::MessageLimits;
use crate::chat::restriction_book::RestrictionBook;
use crate::cluster::Cluster;
use crate::config::{AppConfig, Config};
use crate::encoder::WireEncoders;
use crate::http_api::HeartbeatLimits;
use crate::origin::OriginPolicy;
use crate::pusher::PusherState;
use crate::telemetry::Metrics;
use crate::uploads::Uploads;
use crate::webhooks::Webhooks;

/// One app as the server sees it: the domain app plus what only the server
/// needs (its keys and its browser origins).
pub struct AppContext {
    /// The domain app, with its hub.
    pub app: Arc<App>,
    /// The app's configuration.
    pub config: AppConfig,
    /// Keys that verify and mint the app's tokens.
    pub keys: TokenKeys,
    /// Which browser origins may use the app.
    pub origins: OriginPolicy,
    /// Message limits by namespace name, where a namespace sets any.
    pub limits: HashMap<String, MessageLimits>,
    /// The users' mutes and bans, so sends and subscribes read no store.
    pub restrictions: RestrictionBook,
    /// Document write limits, by namespace.
    pub document_rates: crate::documents::WriteRates,
}

/// What every handler and connection task shares.
pub struct ServerState {
    /// The domain node.
    pub node: Arc<Node>,
    /// The wire protocols' encoders, registered with the node; each new
    /// connection's client handle takes the one of its protocol.
    pub encoders: WireEncoders,
    /// The node's presence store, for its gauges; `None` in a cluster,
    /// whose presence is in Redis.
    pub presence: Option<Arc<MemoryPresence>>,
    /// The chat service: the store, the node and cluster control, which
    /// chat operations take in place of this state.
    pub chat: Chat,
    /// The configuration the server runs with.
    pub config: Config,
    /// Apps by id; the first configured app is also the default.
    pub apps: HashMap<String, Arc<AppContext>>,
    /// Apps by API key, for the HTTP API.
    pub api_keys: HashMap<String, Arc<AppContext>>,
    /// The app a WebSocket joins when it names none.
    pub default_app: Arc<AppContext>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub connections: TaskTracker,
    /// Renders the Prometheus metrics.
    pub metrics: Metrics,
    /// False once shutdown starts, so `/readyz` turns away new traffic.
    pub ready: AtomicBool,
    /// Uploaded files: their rules and their storage.
    pub uploads: Uploads,
    /// The apps' webhooks; also the node's channel observer.
    pub webhooks: Arc<Webhooks>,
    /// Pusher sign-ins, watchlists and cached events.
    pub pusher: Arc<PusherState>,
    /// The per-IP rate limit of presence heartbeats.
    pub heartbeat_limits: HeartbeatLimits,
    /// The control topic and node registry, with `broker = "redis"`.
    pub cluster: Option<Arc<Cluster>>,
    /// The live queries (`doc_watch`) of this node's connections.
    pub watches: crate::documents::watch::Watches,
}

impl ServerState {
    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<&Arc<AppContext>> {
        self.apps.get(id)
    }
}

/// HTTP handlers take the chat service as their state (`State<Chat>`), not
/// the whole server's.
impl FromRef<Arc<ServerState>> for Chat {
    fn from_ref(server: &Arc<ServerState>) -> Self {
        server.chat.clone()
    }
}

/// The upload handlers take the uploads as their state.
impl FromRef<Arc<ServerState>> for Uploads {
    fn from_ref(server: &Arc<ServerState>) -> Self {
        server.uploads.clone()
    }
}
