//! The node's pub/sub connection to Redis: which channel topics it listens
//! to, and reconnecting.
//!
//! One connection carries every topic of the node, and Redis delivers one
//! connection's messages in the order they were published. What can break
//! a channel's order is the connection (messages published while it was
//! down are never sent) and, for persisted channels, the nodes: two nodes
//! committing to one channel relay their commits separately. `ordering.rs`
//! delivers each channel in offset order all the same.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use parley_core::{BackendError, BrokerEventHandler, ChannelName, Publication};
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::mpsc;

use crate::broker_redis::{Streams, within};
use crate::codec;
use crate::committed::CommittedStreams;
use crate::connection::Connector;
use crate::ordering::Listened;

/// How often the idle pub/sub connection is pinged, so a connection that
/// died without a word is noticed.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// The longest wait between two reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// This node's own commits, on their way to ordered delivery.
pub(crate) type Feed = mpsc::Receiver<(Arc<str>, Arc<Publication>)>;

/// The topics a node listens to and the connection it listens on.
pub(crate) struct Subscriptions {
    pub(crate) streams: Arc<Streams>,
    pub(crate) committed: Option<Arc<dyn CommittedStreams>>,
    pub(crate) handler: Arc<dyn BrokerEventHandler>,
    pub(crate) connector: Connector,
    timeout: Duration,
    pub(crate) node: String,
    /// The current connection's sink; `None` while it reconnects.
    sink: Mutex<Option<PubSubSink>>,
    /// The channels this node listens to, by topic.
    pub(crate) channels: Mutex<HashMap<String, Listened>>,
}

impl Subscriptions {
    /// Subscriptions over `sink`, the first connection's, current at once:
    /// a subscribe may come before [`Subscriptions::run`] starts.
    pub(crate) fn new(
        streams: Arc<Streams>,
        committed: Option<Arc<dyn CommittedStreams>>,
        handler: Arc<dyn BrokerEventHandler>,
        connector: Connector,
        timeout: Duration,
        node: String,
        sink: PubSubSink,
    ) -> Self {
        Self {
            streams,
            committed,
            handler,
            connector,
            timeout,
            node,
            sink: Mutex::new(Some(sink)),
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// Listens to a channel's topic. Returns once the SUBSCRIBE took
    /// effect, so whatever is published from then on reaches this node.
    pub(crate) async fn subscribe(
        &self,
        app: &str,
        channel: &ChannelName,
    ) -> Result<(), BackendError> {
        let topic = self.streams.topic(app, channel);
        let gate = {
            let mut channels = self.channels.lock();
            let listened = channels.entry(topic.clone()).or_insert_with(|| Listened {
                app: Arc::from(app),
                channel: channel.clone(),
                persisted: self
                    .committed
                    .as_ref()
                    .is_some_and(|committed| committed.holds(app, channel)),
                wanted: 0,
                gate: Arc::default(),
                delivered: None,
                pending: BTreeMap::new(),
                hold_until: None,
            });
            listened.wanted += 1;
            listened.gate.clone()
        };
        // A second subscriber waits here until the first one's SUBSCRIBE
        // took effect: before that, a publication might not reach this
        // node, and the second subscriber would read a position past it.
        let mut listening = gate.lock().await;
        if *listening {
            return Ok(());
        }
        let listened = self.listen(&topic, app, channel).await;
        match listened {
            Ok(()) => *listening = true,
            Err(_) => {
                if let Some(mut sink) = self.current_sink() {
                    // Best effort: the SUBSCRIBE may have reached Redis.
                    let _ = within(self.timeout, "unsubscribe", sink.unsubscribe(&topic)).await;
                }
                let mut channels = self.channels.lock();
                if let Some(listened) = channels.get_mut(&topic) {
                    listened.wanted -= 1;
                    if listened.wanted == 0 {
                        channels.remove(&topic);
                    }
                }
            }
        }
        listened
    }

    async fn listen(
        &self,
        topic: &str,
        app: &str,
        channel: &ChannelName,
    ) -> Result<(), BackendError> {
        let mut sink = self.current_sink().ok_or_else(|| {
            BackendError("redis pub/sub connection is down; reconnecting".to_owned())
        })?;
        within(self.timeout, "subscribe", sink.subscribe(topic)).await?;
        // Read after the SUBSCRIBE took effect: every later publication
        // comes by the topic, and this is where its delivery starts.
        let persisted = self
            .channels
            .lock()
            .get(topic)
            .is_some_and(|listened| listened.persisted);
        let position = self
            .read_stream(app, channel, persisted, 0, 0)
            .await?
            .position;
        if let Some(listened) = self.channels.lock().get_mut(topic)
            && listened.delivered.is_none()
        {
            listened.delivered = Some(position);
        }
        Ok(())
    }

    /// Stops listening to a channel's topic once nobody on this node wants
    /// it.
    pub(crate) async fn unsubscribe(
        &self,
        app: &str,
        channel: &ChannelName,
    ) -> Result<(), BackendError> {
        let topic = self.streams.topic(app, channel);
        let gate = {
            let mut channels = self.channels.lock();
            let Some(listened) = channels.get_mut(&topic) else {
                return Ok(());
            };
            listened.wanted -= 1;
            if listened.wanted > 0 {
                return Ok(());
            }
            listened.gate.clone()
        };
        // Under the gate, so a SUBSCRIBE of a quick re-join reaches Redis
        // after this UNSUBSCRIBE, never before it.
        let mut listening = gate.lock().await;
        if self
            .channels
            .lock()
            .get(&topic)
            .is_some_and(|listened| listened.wanted > 0)
        {
            // Subscribed again meanwhile: keep listening.
            return Ok(());
        }
        let result = match (*listening, self.current_sink()) {
            (true, Some(mut sink)) => {
                within(self.timeout, "unsubscribe", sink.unsubscribe(&topic)).await
            }
            // Not listening, or reconnecting: the reconnect subscribes only
            // to the topics still wanted.
            _ => Ok(()),
        };
        *listening = false;
        let mut channels = self.channels.lock();
        if let Some(listened) = channels.get_mut(&topic) {
            if listened.wanted == 0 {
                channels.remove(&topic);
            } else {
                // A subscriber came back while the UNSUBSCRIBE was on its
                // way: it listens again from a fresh position.
                listened.delivered = None;
                listened.pending.clear();
                listened.hold_until = None;
            }
        }
        result
    }

    fn current_sink(&self) -> Option<PubSubSink> {
        self.sink.lock().clone()
    }

    /// Runs the pub/sub connection until the broker is dropped: reads and
    /// delivers messages (and this node's own commits, from `feed`), and
    /// after losing the connection reconnects, listens to every topic again
    /// and catches up on what was missed.
    pub(crate) async fn run(self: Arc<Self>, first: PubSubStream, mut feed: Feed) {
        let mut first = Some(first);
        let mut backoff = Duration::from_millis(100);
        let mut reconnected = false;
        loop {
            let (mut sink, mut stream) = match first.take() {
                // The first connection's sink is current already.
                Some(stream) => match self.current_sink() {
                    Some(sink) => (sink, stream),
                    None => continue,
                },
                None => {
                    let connect = self.connector.pubsub("pub/sub connect");
                    let pubsub = match self.feeding(&mut feed, connect).await {
                        Ok(pubsub) => pubsub,
                        Err(error) => {
                            tracing::warn!(node = %self.node, %error, "redis pub/sub reconnect failed");
                            self.feeding(&mut feed, tokio::time::sleep(backoff)).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    };
                    pubsub.split()
                }
            };
            if let Err(error) = self.listen_again(&mut sink).await {
                tracing::warn!(node = %self.node, %error, "redis pub/sub resubscribe failed");
                self.feeding(&mut feed, tokio::time::sleep(backoff)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            backoff = Duration::from_millis(100);
            if reconnected {
                tracing::info!(node = %self.node, "redis pub/sub connection is back");
                self.catch_up_all().await;
            }
            let mut ping = tokio::time::interval(PING_INTERVAL);
            ping.tick().await;
            loop {
                let hold = self.next_hold();
                tokio::select! {
                    message = stream.next() => match message {
                        Some(message) => {
                            let topic = message.get_channel_name().to_owned();
                            let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                            self.on_message(&topic, payload).await;
                        }
                        None => break,
                    },
                    Some((app, publication)) = feed.recv() => {
                        self.on_commit(app, publication).await;
                    }
                    () = sleep_until(hold), if hold.is_some() => self.expire_holds().await,
                    _ = ping.tick() => {
                        let pong = within(self.timeout, "ping", sink.ping::<redis::Value>()).await;
                        if let Err(error) = pong {
                            tracing::warn!(node = %self.node, %error, "redis pub/sub ping failed");
                            break;
                        }
                    }
                }
            }
            *self.sink.lock() = None;
            self.connector.metrics().pubsub_reconnects.increment(1);
            tracing::warn!(node = %self.node, "lost the redis pub/sub connection; reconnecting");
            reconnected = true;
        }
    }

    /// Awaits `future` while delivering this node's own commits and ending
    /// expired holds, so persisted channels keep being delivered (their
    /// gaps filled from the store) while Redis is away.
    async fn feeding<T>(&self, feed: &mut Feed, future: impl Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        loop {
            let hold = self.next_hold();
            tokio::select! {
                output = &mut future => return output,
                Some((app, publication)) = feed.recv() => self.on_commit(app, publication).await,
                () = sleep_until(hold), if hold.is_some() => self.expire_holds().await,
            }
        }
    }

    /// Subscribes a new connection to every topic listened to, then makes
    /// it the current one.
    async fn listen_again(&self, sink: &mut PubSubSink) -> Result<(), BackendError> {
        let topics: Vec<String> = self
            .channels
            .lock()
            .iter()
            .filter(|(_, listened)| listened.wanted > 0)
            .map(|(topic, _)| topic.clone())
            .collect();
        if !topics.is_empty() {
            within(self.timeout, "subscribe", sink.subscribe(&topics)).await?;
        }
        *self.sink.lock() = Some(sink.clone());
        // A topic given up meanwhile was unsubscribed on no connection (or
        // on the old one): give it up on this one too.
        let dropped: Vec<String> = {
            let channels = self.channels.lock();
            topics
                .into_iter()
                .filter(|topic| {
                    channels
                        .get(topic)
                        .is_none_or(|listened| listened.wanted == 0)
                })
                .collect()
        };
        if !dropped.is_empty() {
            within(self.timeout, "unsubscribe", sink.unsubscribe(&dropped)).await?;
        }
        Ok(())
    }

    /// A message from a topic: another node's publication (or this node's,
    /// back from Redis).
    async fn on_message(&self, topic: &str, payload: Bytes) {
        match codec::decode(payload) {
            Ok((app, publication)) => self.on_publication(topic, app, Arc::new(publication)).await,
            Err(error) => tracing::warn!(node = %self.node, topic, %error, "dropped a message"),
        }
    }

    /// One of this node's own commits.
    async fn on_commit(&self, app: Arc<str>, publication: Arc<Publication>) {
        let topic = self.streams.topic(&app, &publication.channel);
        self.on_publication(&topic, app, publication).await;
    }
}

/// Sleeps until `deadline`; never returns without one (the branch using it
/// is disabled then).
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
