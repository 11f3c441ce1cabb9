//! The node's pub/sub connection to Redis: which channel topics it listens
//! to, reconnecting, and delivering each channel in offset order.
//!
//! One connection carries every topic of the node, and Redis delivers one
//! connection's messages in the order it published them; the publish script
//! assigns a channel's offsets and publishes in one atomic step, so a
//! channel's messages arrive in offset order. What can still break the
//! order is the connection: messages published while it was down are never
//! sent. So each channel remembers the position it delivered last; a
//! message that skips offsets, or a reconnect, makes the node read what it
//! missed from the channel's history and deliver that first. When the
//! history no longer holds it, the node's subscribers of the channel are
//! told through [`BrokerEventHandler::handle_gap`], which closes them with
//! a code that says "reconnect and recover".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use parley_core::{BackendError, BrokerEventHandler, ChannelName, StreamPosition, StreamSlice};
use redis::aio::{PubSub, PubSubSink};

use crate::broker_redis::{Streams, within};
use crate::codec;

/// How often the idle pub/sub connection is pinged, so a connection that
/// died without a word is noticed.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// The longest wait between two reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The most missed publications a channel catches up on from its history;
/// past it, the gap is reported instead.
const CATCH_UP_LIMIT: usize = 10_000;

/// How often reading what a channel missed is tried before the gap is
/// reported.
const READ_ATTEMPTS: u32 = 4;

/// The topics a node listens to and the connection it listens on.
pub(crate) struct Subscriptions {
    streams: Arc<Streams>,
    handler: Arc<dyn BrokerEventHandler>,
    client: redis::Client,
    timeout: Duration,
    node: String,
    /// The current connection's sink; `None` while it reconnects.
    sink: Mutex<Option<PubSubSink>>,
    /// The channels this node listens to, by topic.
    channels: Mutex<HashMap<String, Listened>>,
    /// Held across a SUBSCRIBE or UNSUBSCRIBE round trip, so they reach
    /// Redis in the order the node asked for them, and a second subscriber
    /// waits until the first one's SUBSCRIBE took effect (until then, a
    /// publication might not reach this node, and the second subscriber
    /// would read a position past it).
    membership: tokio::sync::Mutex<()>,
}

/// One channel the node listens to.
struct Listened {
    app: Arc<str>,
    channel: ChannelName,
    /// Subscribe calls not yet matched by an unsubscribe: the node's local
    /// subscribers of the channel. The topic is listened to while any is
    /// left, so the calls of a quick leave and re-join may come in either
    /// order.
    wanted: usize,
    /// The position this node delivered last; `None` until it is known.
    delivered: Option<StreamPosition>,
}

/// What to do with one message.
enum Step {
    Deliver,
    Skip,
    CatchUp,
}

impl Subscriptions {
    pub(crate) fn new(
        streams: Arc<Streams>,
        handler: Arc<dyn BrokerEventHandler>,
        client: redis::Client,
        timeout: Duration,
        node: String,
    ) -> Self {
        Self {
            streams,
            handler,
            client,
            timeout,
            node,
            sink: Mutex::new(None),
            channels: Mutex::new(HashMap::new()),
            membership: tokio::sync::Mutex::new(()),
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
        let _order = self.membership.lock().await;
        {
            let mut channels = self.channels.lock();
            let listened = channels.entry(topic.clone()).or_insert_with(|| Listened {
                app: Arc::from(app),
                channel: channel.clone(),
                wanted: 0,
                delivered: None,
            });
            listened.wanted += 1;
            if listened.wanted > 1 {
                return Ok(());
            }
        }
        let listened = self.listen(&topic, app, channel).await;
        if listened.is_err() {
            self.channels.lock().remove(&topic);
            if let Some(mut sink) = self.current_sink() {
                // Best effort: the SUBSCRIBE may have reached Redis.
                let _ = within(self.timeout, "unsubscribe", sink.unsubscribe(&topic)).await;
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
        let position = self.streams.read(app, channel, 0, 0).await?.position;
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
        let _order = self.membership.lock().await;
        {
            let mut channels = self.channels.lock();
            let Some(listened) = channels.get_mut(&topic) else {
                return Ok(());
            };
            listened.wanted -= 1;
            if listened.wanted > 0 {
                return Ok(());
            }
            channels.remove(&topic);
        }
        match self.current_sink() {
            Some(mut sink) => within(self.timeout, "unsubscribe", sink.unsubscribe(&topic)).await,
            // The reconnect subscribes only to the topics still listened to.
            None => Ok(()),
        }
    }

    fn current_sink(&self) -> Option<PubSubSink> {
        self.sink.lock().clone()
    }

    /// Runs the pub/sub connection until the broker is dropped: reads and
    /// delivers messages, and after losing the connection reconnects,
    /// listens to every topic again and catches up on what was missed.
    pub(crate) async fn run(self: Arc<Self>, first: PubSub) {
        let mut connection = Some(first);
        let mut backoff = Duration::from_millis(100);
        let mut reconnected = false;
        loop {
            let pubsub = match connection.take() {
                Some(pubsub) => pubsub,
                None => match within(
                    self.timeout,
                    "pub/sub connect",
                    self.client.get_async_pubsub(),
                )
                .await
                {
                    Ok(pubsub) => pubsub,
                    Err(error) => {
                        tracing::warn!(node = %self.node, %error, "redis pub/sub reconnect failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                },
            };
            let (mut sink, mut stream) = pubsub.split();
            if let Err(error) = self.listen_again(&mut sink).await {
                tracing::warn!(node = %self.node, %error, "redis pub/sub resubscribe failed");
                tokio::time::sleep(backoff).await;
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
                tokio::select! {
                    message = stream.next() => match message {
                        Some(message) => {
                            let topic = message.get_channel_name().to_owned();
                            let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                            self.on_message(&topic, payload).await;
                        }
                        None => break,
                    },
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
            tracing::warn!(node = %self.node, "lost the redis pub/sub connection; reconnecting");
            reconnected = true;
        }
    }

    /// Subscribes a new connection to every topic listened to, then makes
    /// it the current one.
    async fn listen_again(&self, sink: &mut PubSubSink) -> Result<(), BackendError> {
        let topics: Vec<String> = self.channels.lock().keys().cloned().collect();
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
                .filter(|topic| !channels.contains_key(topic))
                .collect()
        };
        if !dropped.is_empty() {
            within(self.timeout, "unsubscribe", sink.unsubscribe(&dropped)).await?;
        }
        Ok(())
    }

    /// Delivers one message from a topic, in its channel's offset order.
    async fn on_message(&self, topic: &str, payload: Bytes) {
        let (app, publication) = match codec::decode(payload) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(node = %self.node, topic, %error, "dropped a message");
                return;
            }
        };
        let step = {
            let mut channels = self.channels.lock();
            let Some(listened) = channels.get_mut(topic) else {
                // Unsubscribed while the message was on its way.
                return;
            };
            let position = &publication.position;
            let step = match &listened.delivered {
                None => Step::Deliver,
                // The stream started over after it went unused: its first
                // publication follows on.
                Some(last) if last.epoch != position.epoch => {
                    if position.offset == 1 {
                        Step::Deliver
                    } else {
                        Step::CatchUp
                    }
                }
                Some(last) if position.offset <= last.offset => Step::Skip,
                Some(last) if position.offset == last.offset + 1 => Step::Deliver,
                Some(_) => Step::CatchUp,
            };
            if let Step::Deliver = step {
                listened.delivered = Some(position.clone());
            }
            step
        };
        match step {
            Step::Deliver => self.handler.handle_publication(&app, Arc::new(publication)),
            Step::Skip => {}
            // The history has this message too: catching up delivers it.
            Step::CatchUp => self.catch_up(topic).await,
        }
    }

    async fn catch_up_all(&self) {
        let topics: Vec<String> = self.channels.lock().keys().cloned().collect();
        for topic in topics {
            self.catch_up(&topic).await;
        }
    }

    /// Reads what a channel's history holds after `after`. Tried a few
    /// times: right after Redis comes back, the command connection may not
    /// have reconnected yet.
    async fn read_missed(
        &self,
        app: &str,
        channel: &ChannelName,
        after: u64,
    ) -> Result<StreamSlice, BackendError> {
        let mut wait = Duration::from_millis(100);
        let mut attempts = 1;
        loop {
            match self.streams.read(app, channel, after, CATCH_UP_LIMIT).await {
                Ok(slice) => return Ok(slice),
                Err(error) if attempts >= READ_ATTEMPTS => return Err(error),
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempts += 1;
                }
            }
        }
    }

    /// Delivers what a channel's history holds after the position this node
    /// delivered last; reports a gap when it no longer holds all of it.
    async fn catch_up(&self, topic: &str) {
        let Some((app, channel, last)) = self.channels.lock().get(topic).map(|listened| {
            (
                listened.app.clone(),
                listened.channel.clone(),
                listened.delivered.clone(),
            )
        }) else {
            return;
        };
        let Some(last) = last else {
            return;
        };
        let slice = match self.read_missed(&app, &channel, last.offset).await {
            Ok(slice) => slice,
            Err(error) => {
                tracing::warn!(node = %self.node, %channel, %error, "cannot read what was missed");
                if let Some(listened) = self.channels.lock().get_mut(topic) {
                    listened.delivered = None;
                }
                self.handler.handle_gap(&app, &channel);
                return;
            }
        };
        let recovered = slice.complete && slice.position.epoch == last.epoch;
        if let Some(listened) = self.channels.lock().get_mut(topic) {
            listened.delivered = Some(slice.position.clone());
        }
        if !recovered {
            self.handler.handle_gap(&app, &channel);
            return;
        }
        for publication in slice.publications {
            self.handler.handle_publication(&app, publication);
        }
    }
}
