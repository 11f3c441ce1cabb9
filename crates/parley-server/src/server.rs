//! Building the server from its configuration, and running it until
//! shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, request::Parts};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use parley_cluster::{ControlListener, RedisBroker, RedisOptions, RedisTls};
use parley_core::Namespace;
use parley_core::{
    App, Broker, ChannelObserver, MemoryBroker, MemoryPresence, Node, ObserverSet, PresenceManager,
};
use parley_store::{Retention, Store, Timestamp, TrimScope};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{MissingExp, TokenKeys};
use crate::chat::Chat;
use crate::chat::limits::MessageLimits;
use crate::chat::restriction_book::RestrictionBook;
use crate::cluster::Cluster;
use crate::cluster::control::{Control, RemoteControl};
use crate::committed::StoreStreams;
use crate::config::{BrokerKind, Config};
use crate::encoder::WireEncoders;
use crate::http_api::{ApiError, HeartbeatLimits};
use crate::json::MessageJson;
use crate::origin::OriginPolicy;
use crate::pusher::PusherState;
use crate::pusher::cache::EventCache;
use crate::pusher::subscription_count::SubscriptionCounts;
use crate::pusher::users::SignedInUsers;
use crate::state::{AppContext, ServerState};
use crate::uploads::Uploads;
use crate::webhooks::Webhooks;
use crate::{health, http_api, telemetry, ws};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration cannot be turned into a server.
    #[error("{0}")]
    Config(String),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A built server: its shared state and the in-memory stores it sweeps.
pub struct Server {
    state: Arc<ServerState>,
    /// The memory broker, whose idle streams the server sweeps; `None`
    /// with the Redis broker, whose streams expire in Redis.
    memory_broker: Option<Arc<MemoryBroker>>,
    /// The task applying the other nodes' control actions, with Redis.
    control_listener: Option<ControlListener>,
    /// The task applying the other nodes' presence changes, with Redis.
    presence_listener: Option<ControlListener>,
}

/// How often presence leases and typers are checked for expiry.
const PRESENCE_SWEEP: std::time::Duration = std::time::Duration::from_millis(250);

impl Server {
    /// Builds the node, the apps and their keys from `config`.
    pub async fn new(config: Config) -> Result<Self, ServerError> {
        // First: what registers metrics while the server is built (the
        // cluster's) needs the recorder installed.
        let metrics = telemetry::metrics_handle();
        let options = config.store_options().map_err(ServerError::Config)?;
        let store = Store::open(options, Arc::new(MessageJson))
            .await
            .map_err(|error| ServerError::Config(format!("cannot open the store: {error}")))?;
        for migration in store.applied_migrations() {
            tracing::info!(
                version = migration.version,
                description = %migration.description,
                "applied migration"
            );
        }
        let mut contexts = Vec::with_capacity(config.apps.len());
        let mut apps = Vec::with_capacity(config.apps.len());
        for app_config in &config.apps {
            let keys = TokenKeys::new(&app_config.secret, app_config.public_key.as_deref())
                .map_err(|error| ServerError::Config(format!("app {:?}: {error}", app_config.id)))?
                .with_missing_exp(if app_config.allow_tokens_without_exp {
                    MissingExp::Accept
                } else {
                    MissingExp::Refuse
                });
            apps.push(App::new(app_config.id.as_str(), app_config.app_options()));
            contexts.push((app_config.clone(), keys));
        }
        let redis = match config.cluster.broker {
            BrokerKind::Memory => None,
            BrokerKind::Redis => {
                let options = RedisOptions {
                    url: config.cluster.redis_url.clone(),
                    tls: RedisTls {
                        ca_file: config.cluster.redis_tls_ca.clone(),
                        cert_file: config.cluster.redis_tls_cert.clone(),
                        key_file: config.cluster.redis_tls_key.clone(),
                    },
                    prefix: config.cluster.prefix.clone(),
                    node: config.cluster.node_name(),
                    stream_idle_ttl: config.stream_idle_ttl,
                    timeout: config.cluster.redis_timeout,
                };
                let unreachable = |error| {
                    ServerError::Config(format!(
                        "cannot reach the cluster's Redis (cluster.redis_url): {error}"
                    ))
                };
                let cluster = Cluster::connect(&options, config.cluster.node_ttl)
                    .await
                    .map_err(unreachable)?;
                let connected = RedisBroker::connect(options).await.map_err(unreachable)?;
                Some((connected, Arc::new(cluster)))
            }
        };
        let (redis, cluster) = redis.unzip();
        let mut memory_broker = None;
        // A single node keeps presence in memory; a cluster's is shared.
        let (presence, memory_presence): (Arc<dyn PresenceManager>, _) = match &cluster {
            Some(cluster) => (cluster.presence.clone(), None),
            None => {
                let memory = Arc::new(MemoryPresence::new());
                (memory.clone(), Some(memory))
            }
        };
        let node = Arc::new(Node::new(
            config.node_options(),
            apps,
            |handler| -> Arc<dyn Broker> {
                // Persisted channels are delivered by the store, in commit
                // order; the others by the broker. With Redis, the store's
                // commits go through the broker too: relayed to the other
                // nodes, delivered here in offset order with theirs.
                match redis {
                    Some(connected) => {
                        let committed = Arc::new(StoreStreams::new(store.clone(), &config.apps));
                        let broker = connected.start(handler.clone(), Some(committed));
                        store.deliver_to(broker.commit_handler().unwrap_or(handler));
                        Arc::new(broker)
                    }
                    None => {
                        store.deliver_to(handler.clone());
                        let memory = Arc::new(MemoryBroker::new(handler));
                        memory_broker = Some(memory.clone());
                        memory
                    }
                }
            },
            presence,
        ));
        if let Some(cluster) = &cluster {
            node.join_cluster(cluster.presence_bus.clone(), cluster.status.clone());
        }
        let encoders = WireEncoders::register(&node)
            .map_err(|error| ServerError::Config(error.to_string()))?;
        // Persisted namespaces' streams are the store's: the node appends,
        // recovers and pages them there.
        node.persist_to(Arc::new(store.clone()));
        let webhooks = Webhooks::new(&config.apps);
        let webhooks = Arc::new(match &cluster {
            Some(_) => webhooks.with_cluster_occupancy(),
            None => webhooks,
        });
        let subscription_counts = Arc::new(SubscriptionCounts::new(
            config
                .apps
                .iter()
                .filter(|app| app.pusher.enable_subscription_count)
                .filter_map(|app| node.app(&app.id).cloned()),
            encoders.pusher.id(),
        ));
        let mut observers: Vec<Arc<dyn ChannelObserver>> = Vec::new();
        if webhooks.is_enabled() {
            observers.push(webhooks.clone());
        }
        if subscription_counts.is_enabled() {
            observers.push(subscription_counts.clone());
        }
        if let Some(cluster) = &cluster {
            observers.push(cluster.occupancy.clone());
        }
        if !observers.is_empty() {
            node.observe(Arc::new(ObserverSet(observers)));
        }
        let mut by_id = HashMap::new();
        let mut by_api_key = HashMap::new();
        let mut default_app = None;
        for (app_config, keys) in contexts {
            let context = Arc::new(AppContext {
                app: node
                    .app(&app_config.id)
                    .expect("every configured app is in the node")
                    .clone(),
                origins: OriginPolicy::new(&app_config.id, &app_config.allowed_origins)
                    .with_local_pages(config.local_origins_allowed()),
                limits: app_config
                    .namespaces
                    .iter()
                    .filter_map(|(name, namespace)| {
                        let shared = cluster.as_ref().map(|cluster| cluster.limits.clone());
                        MessageLimits::new(name, namespace, shared)
                            .map(|limits| (name.clone(), limits))
                    })
                    .collect(),
                restrictions: RestrictionBook::default(),
                document_rates: crate::documents::WriteRates::new(&app_config),
                config: app_config,
                keys,
            });
            for key in &context.config.api_keys {
                if by_api_key.insert(key.clone(), context.clone()).is_some() {
                    return Err(ServerError::Config("an API key is used by two apps".into()));
                }
            }
            default_app.get_or_insert_with(|| context.clone());
            by_id.insert(context.config.id.clone(), context);
        }
        let default_app =
            default_app.ok_or_else(|| ServerError::Config("no app configured".into()))?;
        let uploads = Uploads::on_filesystem(&config.data_dir, config.uploads.clone());
        let heartbeat_limits = HeartbeatLimits::new(config.heartbeats_per_ip);
        let (users, cache) = match &cluster {
            Some(cluster) => (
                SignedInUsers::for_cluster(),
                EventCache::shared(cluster.cache.clone()),
            ),
            None => (SignedInUsers::default(), EventCache::default()),
        };
        let pusher = Arc::new(PusherState::new(users, cache, subscription_counts));
        let control = Control::new(
            node.clone(),
            encoders.native.id(),
            pusher.clone(),
            cluster.clone(),
        );
        let chat = Chat::new(store, node.clone(), control.clone());
        let shutdown = CancellationToken::new();
        let watches = crate::documents::watch::Watches::new(
            chat.clone(),
            encoders.native.clone(),
            shutdown.clone(),
        );
        let state = Arc::new(ServerState {
            node,
            encoders,
            presence: memory_presence,
            chat,
            config,
            apps: by_id,
            api_keys: by_api_key,
            default_app,
            shutdown,
            connections: TaskTracker::new(),
            metrics,
            ready: AtomicBool::new(true),
            uploads,
            webhooks,
            pusher,
            heartbeat_limits,
            cluster,
            watches,
        });
        let control_listener = match &state.cluster {
            Some(cluster) => Some(
                cluster
                    .bus
                    .listen(Arc::new(RemoteControl::new(control, state.apps.clone())))
                    .await
                    .map_err(|error| {
                        ServerError::Config(format!(
                            "cannot listen to the cluster's control topic: {error}"
                        ))
                    })?,
            ),
            None => None,
        };
        let presence_listener = match &state.cluster {
            Some(cluster) => Some(
                cluster
                    .presence_bus
                    .listen(state.node.clone())
                    .await
                    .map_err(|error| {
                        ServerError::Config(format!(
                            "cannot listen to the cluster's presence topic: {error}"
                        ))
                    })?,
            ),
            None => None,
        };
        // Users an earlier run under this node's name left online (it died
        // before its registry entry expired) are offline: nothing here holds
        // them yet.
        state.node.forget_earlier_run().await;
        Ok(Self {
            state,
            memory_broker,
            control_listener,
            presence_listener,
        })
    }

    /// The shared state, for tests and embedding programs.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// The HTTP router: the WebSocket endpoint, the API and the probes.
    pub fn router(&self) -> Router {
        let state = &self.state;
        let origins: Vec<OriginPolicy> =
            state.apps.values().map(|app| app.origins.clone()).collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(
                move |origin: &HeaderValue, _: &Parts| {
                    origin
                        .to_str()
                        .is_ok_and(|origin| origins.iter().any(|policy| policy.lists(origin)))
                },
            ))
            .allow_methods(http_api::METHODS)
            .allow_headers(http_api::REQUEST_HEADERS)
            .expose_headers(http_api::RESPONSE_HEADERS)
            .max_age(std::time::Duration::from_secs(3600));
        Router::new()
            .route("/ws", get(ws::upgrade))
            .route("/app/{key}", get(crate::pusher::upgrade::upgrade))
            .merge(http_api::router())
            .merge(crate::pusher::http_api::router())
            .merge(health::router())
            .merge(crate::web::router(&state.config.web))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(state.clone())
            // Outermost, so preflight requests are answered before routing.
            .layer(cors)
    }

    /// Serves on `listener` until `shutdown` completes, then closes every
    /// connection with the shutdown code and waits (bounded by
    /// `shutdown_timeout`) for their tasks.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = self.state.clone();
        let sweeper = tokio::spawn(sweep_streams(self.memory_broker.clone(), state.clone()));
        let presence_sweeper = tokio::spawn(sweep_presence(state.clone()));
        let metrics_upkeep = tokio::spawn(telemetry::keep_metrics(
            state.metrics.clone(),
            state.shutdown.clone(),
        ));
        let mut registration = tokio::spawn(crate::cluster::registry::keep_registered(
            state.node.clone(),
            state.cluster.clone(),
            state.shutdown.clone(),
        ));
        let counts = state
            .pusher
            .subscription_counts
            .is_enabled()
            .then(|| tokio::spawn(push_subscription_counts(state.clone())));
        let occupancy = tokio::spawn(crate::cluster::occupancy::keep_counts(state.clone()));
        let webhooks = state.webhooks.start(state.chat.store().clone());
        let stop = state.shutdown.clone();
        let signal = {
            let state = state.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                state.ready.store(false, Ordering::Relaxed);
                state.shutdown.cancel();
            }
        };
        // A make-service, not the router itself: serving the router clones
        // its route table for every connection (a quarter of a connect's CPU).
        // No Nagle delay: a push is a small frame that should leave at once,
        // not wait for the acknowledgement of the previous one.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::trace!(%error, "cannot set TCP_NODELAY");
            }
        });
        // With the peer's address, for the per-IP limit of heartbeats.
        let served = axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = signal => {}
                () = stop.cancelled() => {}
            }
        })
        .await;
        // Serving can also end by an error; the connections close either way.
        state.shutdown.cancel();
        state.connections.close();
        if tokio::time::timeout(state.config.shutdown_timeout, state.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = state.connections.len(),
                "connections still open after the shutdown timeout"
            );
        }
        // Stopped by the shutdown token; each unsubscribes its feed.
        if tokio::time::timeout(state.config.shutdown_timeout, state.watches.finish())
            .await
            .is_err()
        {
            tracing::warn!("live query feeds still running after the shutdown timeout");
        }
        sweeper.abort();
        presence_sweeper.abort();
        // It returns once shutdown began, which it has by now.
        let _ = metrics_upkeep.await;
        // The registry task removes this node's entry once shutdown began;
        // bounded, as Redis may be away.
        let removal = state.config.cluster.redis_timeout * 2;
        if tokio::time::timeout(removal, &mut registration)
            .await
            .is_err()
        {
            registration.abort();
        }
        // After the connections closed: this node's channel counts leave
        // the deployment's, and the channels only it held are vacated.
        occupancy.abort();
        let _ = tokio::time::timeout(removal, crate::cluster::occupancy::finish(&state)).await;
        drop(self.control_listener);
        drop(self.presence_listener);
        if let Some(counts) = counts {
            counts.abort();
        }
        // After the connections closed, so their leaves are in: the batcher
        // writes the webhook events it still holds to the store.
        if let Some(webhooks) = webhooks {
            webhooks.finish().await;
        }
        // Last: every acknowledged write is committed before the store closes.
        state.chat.store().close().await;
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

/// Expires presence leases and typers. Leaves of vanished connections are
/// found here, never by waiting for a disconnect.
async fn sweep_presence(state: Arc<ServerState>) {
    let mut interval = tokio::time::interval(PRESENCE_SWEEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = interval.tick() => state.node.sweep_presence().await,
        }
    }
}

/// Pushes Pusher's `subscription_count` to channels whose count changed.
async fn push_subscription_counts(state: Arc<ServerState>) {
    let mut interval = tokio::time::interval(crate::pusher::subscription_count::FLUSH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = interval.tick() => {
                state.pusher.subscription_counts.flush(std::time::Instant::now());
            }
        }
    }
}

/// Applies the retention of persisted namespaces (`history_size`,
/// `history_ttl`) to the store.
async fn trim_persisted(state: &ServerState, app: &AppContext) {
    for (name, namespace) in &app.config.namespaces {
        if !namespace.persist || (namespace.history_size == 0 && namespace.history_ttl.is_zero()) {
            continue;
        }
        let scope = TrimScope::Namespace((name != Namespace::DEFAULT).then(|| name.clone()));
        let retention = Retention {
            keep_last: (namespace.history_size > 0).then_some(namespace.history_size as u64),
            older_than: (!namespace.history_ttl.is_zero())
                .then(|| Timestamp::now().minus(namespace.history_ttl)),
        };
        if let Err(error) = state
            .chat
            .store()
            .trim(app.app.id.clone(), scope, retention)
            .await
        {
            tracing::warn!(namespace = %name, %error, "retention trim failed");
        }
    }
}

/// Drops in-memory streams nobody has used for `stream_idle_ttl` (the Redis
/// broker's expire in Redis), forgets idle limits and trims persisted
/// namespaces.
async fn sweep_streams(broker: Option<Arc<MemoryBroker>>, state: Arc<ServerState>) {
    let ttl = state.config.stream_idle_ttl;
    let period = (ttl / 2).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    );
    let mut interval = tokio::time::interval(period);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = interval.tick() => {
                for app in state.apps.values() {
                    for limits in app.limits.values() {
                        limits.forget_idle();
                    }
                    app.document_rates.forget_idle();
                    trim_persisted(&state, app).await;
                }
                state.heartbeat_limits.forget_idle();
                state.uploads.forget_idle();
                if let Some(broker) = &broker {
                    let dropped = broker.sweep(ttl);
                    if dropped > 0 {
                        tracing::debug!(dropped, "swept idle streams");
                    }
                }
            }
        }
    }
}
