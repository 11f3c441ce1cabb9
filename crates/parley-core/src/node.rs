//! The node: one server process's apps, broker and limits. Its channel
//! streams (publish, position, recover, history) are in `node_stream.rs`,
//! its presence in `node_presence.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::live_counts::LiveCounts;
use crate::{
    App, Broker, BrokerEventHandler, COUNTERS, ChannelEvent, ChannelName, ChannelObserver,
    ClientHandle, ClientId, Counters, Disconnect, DurableStreams, Encoder, EncoderRegistry, Error,
    FrameEncoder, MemberInfo, PresenceFeed, PresenceManager, PresenceRelay, Publication, Push,
    SharedStatus, StreamPosition, TooManyEncoders,
};

/// Node-wide limits.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Connections this node accepts at once, over all apps.
    pub max_connections: usize,
    /// The bound of each connection's outbound queue, in bytes.
    pub max_queue_bytes: usize,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            max_connections: 19_000,
            max_queue_bytes: 1024 * 1024,
        }
    }
}

/// A snapshot of the node's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's number, the first part of every client id it hands out.
    pub number: u32,
    /// Open connections, including those that have not sent `connect` yet.
    pub connections: usize,
    /// Subscriptions over all apps.
    pub subscriptions: usize,
    /// Channels with local subscribers over all apps.
    pub channels: usize,
    /// Time since the node started.
    pub uptime: Duration,
}

/// The apps of a node, keyed by id. Shared by the node and the broker's
/// event handler.
type Apps = HashMap<Arc<str>, Arc<App>>;

/// One server process: its apps (each with its hub), the broker and the
/// node-wide connection limit.
pub struct Node {
    number: u32,
    apps: Arc<Apps>,
    pub(crate) broker: Arc<dyn Broker>,
    /// The store of persisted namespaces' streams, once the server
    /// registered it (see `node_stream.rs`).
    pub(crate) durable: OnceLock<Arc<dyn DurableStreams>>,
    options: NodeOptions,
    pub(crate) presence: Arc<dyn PresenceManager>,
    pub(crate) feed: Arc<PresenceFeed>,
    /// The live presence counts owed to channels (`presence_stats_interval`).
    pub(crate) live_counts: LiveCounts,
    /// Hands out the ids of the wire protocols' encoders, which key the
    /// hubs' per-broadcast frame caches.
    encoders: EncoderRegistry,
    connections: Arc<AtomicUsize>,
    next_sequence: AtomicU64,
    started: Instant,
    /// Hears channel and member events (webhooks), once set.
    observer: OnceLock<Arc<dyn ChannelObserver>>,
    /// In a cluster: carries this node's presence changes to the others.
    pub(crate) relay: OnceLock<Arc<dyn PresenceRelay>>,
    /// In a cluster: the deployment's view of user status.
    pub(crate) shared_status: OnceLock<Arc<dyn SharedStatus>>,
}

/// Delivers the broker's publications to the hub of their app.
struct LocalDelivery {
    apps: Arc<Apps>,
}

impl BrokerEventHandler for LocalDelivery {
    fn handle_publication(&self, app: &str, publication: Arc<Publication>) {
        if let Some(app) = self.apps.get(app) {
            let delivered = app.hub.broadcast(&Push::Publication(&publication));
            Counters::add(&COUNTERS.publications, 1);
            Counters::add(&COUNTERS.deliveries, delivered as u64);
        }
    }

    fn handle_gap(&self, app: &str, channel: &ChannelName) -> usize {
        let Some(app) = self.apps.get(app) else {
            return 0;
        };
        let subscribers = app.hub.subscribers(channel);
        tracing::warn!(
            app = %app.id,
            %channel,
            subscribers = subscribers.len(),
            "publications were missed; closing the channel's subscribers so they recover"
        );
        for client in &subscribers {
            client.disconnect(Disconnect::MissedPublications);
        }
        subscribers.len()
    }
}

/// A reserved place in the node's connection limit, released on drop.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Node {
    /// A node serving `apps`. `make_broker` builds the broker around the
    /// node's delivery handler; `presence` keeps presence leases. Wire
    /// protocols register their encoders with [`Node::register_encoder`].
    pub fn new(
        options: NodeOptions,
        apps: Vec<App>,
        make_broker: impl FnOnce(Arc<dyn BrokerEventHandler>) -> Arc<dyn Broker>,
        presence: Arc<dyn PresenceManager>,
    ) -> Self {
        let apps: Arc<Apps> = Arc::new(
            apps.into_iter()
                .map(|app| (app.id.clone(), Arc::new(app)))
                .collect(),
        );
        let broker = make_broker(Arc::new(LocalDelivery { apps: apps.clone() }));
        Self {
            number: rand::random::<u32>() % 1_000_000_000,
            apps,
            broker,
            durable: OnceLock::new(),
            options,
            presence,
            feed: Arc::new(PresenceFeed::new()),
            live_counts: LiveCounts::default(),
            encoders: EncoderRegistry::default(),
            connections: Arc::default(),
            next_sequence: AtomicU64::new(1),
            started: Instant::now(),
            observer: OnceLock::new(),
            relay: OnceLock::new(),
            shared_status: OnceLock::new(),
        }
    }

    /// Sets the observer that hears every channel and member event from now
    /// on. It is set once; returns false if one was set before.
    pub fn observe(&self, observer: Arc<dyn ChannelObserver>) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Tells the observer, if any, that `event` happened to `channel`.
    pub(crate) fn notify(
        &self,
        app: &App,
        channel: &ChannelName,
        event: impl FnOnce() -> ChannelEvent,
    ) {
        if let Some(observer) = self.observer.get() {
            observer.on_channel_event(&app.id, channel, event());
        }
    }

    /// Tells the observer a channel's subscriber count changed.
    fn notify_count(&self, app: &App, channel: &ChannelName) {
        if let Some(observer) = self.observer.get() {
            let count = app.hub.subscriber_count(channel);
            observer.on_channel_event(&app.id, channel, ChannelEvent::SubscriptionCount(count));
        }
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<&Arc<App>> {
        self.apps.get(id)
    }

    /// Every app, in no particular order.
    pub fn apps(&self) -> impl Iterator<Item = &Arc<App>> {
        self.apps.values()
    }

    /// Node-wide limits.
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }

    /// Reserves a place for a new connection, or refuses it when the node is
    /// full. Hold the slot for the connection's whole life.
    pub fn admit(&self) -> Result<ConnectionSlot, Error> {
        let before = self.connections.fetch_add(1, Ordering::Relaxed);
        let slot = ConnectionSlot(self.connections.clone());
        if before >= self.options.max_connections {
            return Err(Error::NodeFull);
        }
        Ok(slot)
    }

    /// Registers the encoder of a wire protocol. The id it gets keys the
    /// frame cache of every broadcast: a push is encoded at most once per
    /// registered encoder. A node registers at most
    /// [`MAX_ENCODERS`](crate::MAX_ENCODERS).
    pub fn register_encoder(&self, encoder: impl FrameEncoder) -> Result<Encoder, TooManyEncoders> {
        self.encoders.register(encoder)
    }

    /// A handle for a newly accepted connection, with a fresh client id,
    /// the `encoder` (registered with this node) of its wire protocol, and
    /// its bounded queue. It is not in the hub until [`Node::register`].
    pub fn new_client(&self, app: &App, encoder: &Encoder) -> Arc<ClientHandle> {
        let id = ClientId {
            node: self.number,
            sequence: self.next_sequence.fetch_add(1, Ordering::Relaxed),
        };
        Arc::new(ClientHandle::new(
            id,
            app.id.clone(),
            encoder.clone(),
            self.options.max_queue_bytes,
        ))
    }

    /// Registers a connection once it has identified itself as `user` (the
    /// empty string for an anonymous connection). A connection registers
    /// once; register it again and nothing changes.
    pub fn register(
        &self,
        app: &App,
        client: &Arc<ClientHandle>,
        user: Arc<str>,
        info: Arc<MemberInfo>,
    ) -> Result<(), Error> {
        if !client.identify(user.clone(), info) {
            return Ok(());
        }
        app.hub
            .add_client(client, app.options.max_connections_per_user)?;
        if !user.is_empty()
            && let Some((status, version)) = app.statuses.connected(&user)
        {
            self.status_changed(app, status, version);
        }
        Ok(())
    }

    /// Removes a registered connection and all of its subscriptions.
    pub async fn unregister(
        &self,
        app: &App,
        client: &ClientHandle,
        channels: impl IntoIterator<Item = ChannelName>,
    ) {
        for channel in channels {
            self.unsubscribe(app, client.id, &channel).await;
        }
        app.hub.remove_client(client);
        if !client.is_anonymous()
            && let Some((status, version)) = app.statuses.disconnected(&client.user_arc())
        {
            self.status_changed(app, status, version);
        }
    }

    /// Subscribes a connection to a channel; permissions must have been
    /// checked with [`App::check_subscribe`]. A `recovering` subscription
    /// holds live publications back until [`Node::finish_recovery`].
    pub async fn subscribe(
        &self,
        app: &App,
        client: &Arc<ClientHandle>,
        channel: &ChannelName,
        recovering: bool,
    ) -> Result<(), Error> {
        let first = app.hub.subscribe(client, channel, recovering)?;
        // Every subscription, not only the first: a cluster broker answers
        // once its topic subscription took effect, so this subscriber reads
        // its position only when later publications are sure to arrive.
        if let Err(error) = self.broker.subscribe(&app.id, channel).await {
            app.hub.unsubscribe(client.id, channel);
            return Err(error.into());
        }
        if first {
            self.notify(app, channel, || ChannelEvent::Occupied);
        }
        self.notify_count(app, channel);
        Ok(())
    }

    /// Releases the publications a recovering subscription held back, those
    /// past `replayed` (where its replay ended), a page at a time, and then
    /// lets later ones through; none at or below `replayed` reaches it
    /// again. Returns whether the hold ended; if not, call it again once
    /// the connection wrote its queue (see [`Hub::finish_recovery`]).
    ///
    /// [`Hub::finish_recovery`]: crate::Hub::finish_recovery
    pub fn finish_recovery(
        &self,
        app: &App,
        client: &ClientHandle,
        channel: &ChannelName,
        replayed: &StreamPosition,
    ) -> bool {
        app.hub.finish_recovery(client, channel, replayed)
    }

    /// Unsubscribes a connection. Returns whether it was subscribed.
    pub async fn unsubscribe(&self, app: &App, client: ClientId, channel: &ChannelName) -> bool {
        match app.hub.unsubscribe(client, channel) {
            None => false,
            Some(last) => {
                if let Err(error) = self.broker.unsubscribe(&app.id, channel).await {
                    tracing::warn!(%channel, %error, "broker unsubscribe failed");
                }
                self.notify_count(app, channel);
                if last {
                    self.notify(app, channel, || ChannelEvent::Vacated);
                }
                true
            }
        }
    }

    /// Closes every connection of `user` in `app` with `reason`. Returns how
    /// many connections were asked to close.
    pub fn disconnect_user(&self, app: &App, user: &str, reason: Disconnect) -> usize {
        let clients = app.hub.user_clients(user);
        for client in &clients {
            client.disconnect(reason);
        }
        clients.len()
    }

    /// A snapshot of the node's state.
    pub fn info(&self) -> NodeInfo {
        let (subscriptions, channels) = self.apps.values().fold((0, 0), |(s, c), app| {
            (
                s + app.hub.subscription_count(),
                c + app.hub.channel_count(),
            )
        });
        NodeInfo {
            number: self.number,
            connections: self.connections.load(Ordering::Relaxed),
            subscriptions,
            channels,
            uptime: self.started.elapsed(),
        }
    }
}
