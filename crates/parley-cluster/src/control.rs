//! The control topic: commands one node sends to every other node of its
//! deployment (disconnect a user, end a subscription, replace a block
//! list), as opposed to publications, which travel on channel topics.
//!
//! The bus carries opaque payloads: the server decides what a command is
//! and how it is written. Each message travels as `<node> <payload>`
//! (node names have no spaces), so a node can skip its own messages: it
//! applied them before it sent them.
//!
//! The bus has connections of its own, apart from the broker's: a control
//! message is never ordered against publications, and a burst of
//! publications never delays a ban.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parley_core::{BackendError, BoxFuture};

use crate::broker_redis::{RedisOptions, within};
use crate::connection::{Commands, Connector};

/// How often the idle control connection is pinged, so a connection that
/// died without a word is noticed.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// The longest wait between two reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a node does with a command another node sent.
pub trait ControlHandler: Send + Sync + 'static {
    /// Applies one command, as the sending node wrote it. Commands are
    /// applied one at a time, in the order they arrive.
    fn apply(&self, payload: Bytes) -> BoxFuture<'_, ()>;
}

/// The sending side of the control topic, and what a node needs to
/// listen to it.
pub struct ControlBus {
    connector: Connector,
    connection: Commands,
    topic: String,
    node: String,
    timeout: Duration,
}

/// The task listening to the control topic; stops when dropped.
pub struct ControlListener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ControlBus {
    /// Connects the bus's command connection, so an unreachable Redis
    /// fails the start.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        Self::connect_topic(options, "control").await
    }

    /// A bus on the topic `<prefix>:<name>` (presence changes travel on
    /// one of their own, `presence_bus.rs`).
    pub(crate) async fn connect_topic(
        options: &RedisOptions,
        name: &str,
    ) -> Result<Self, BackendError> {
        let connector = Connector::new(options)?;
        let connection = connector.commands("control connect").await?;
        Ok(Self {
            connector,
            connection,
            topic: format!("{}:{name}", options.prefix),
            node: options.node.clone(),
            timeout: options.timeout,
        })
    }

    /// This node's name, as its messages carry it.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Sends a command to every other node listening now. Returns how many
    /// nodes received it, this one included; an error when Redis could not
    /// be reached within the timeout.
    pub async fn publish(&self, payload: &[u8]) -> Result<u64, BackendError> {
        let mut message = Vec::with_capacity(self.node.len() + 1 + payload.len());
        message.extend_from_slice(self.node.as_bytes());
        message.push(b' ');
        message.extend_from_slice(payload);
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "control publish",
            redis::cmd("PUBLISH")
                .arg(&self.topic)
                .arg(message)
                .query_async::<u64>(&mut connection),
        )
        .await
    }

    /// Listens to the control topic and hands every other node's commands
    /// to `handler`. Returns once the first SUBSCRIBE took effect, so
    /// whatever is sent from then on reaches this node; after a lost
    /// connection it reconnects (backing off up to 5 s). Commands sent
    /// while the connection was down are not seen.
    pub async fn listen(
        &self,
        handler: Arc<dyn ControlHandler>,
    ) -> Result<ControlListener, BackendError> {
        let first = self.subscribe().await?;
        let listening = Listening {
            connector: self.connector.clone(),
            topic: self.topic.clone(),
            node: self.node.clone(),
            timeout: self.timeout,
            handler,
        };
        Ok(ControlListener {
            task: tokio::spawn(listening.run(first)),
        })
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSub, BackendError> {
        subscribe(&self.connector, &self.topic, self.timeout).await
    }
}

async fn subscribe(
    connector: &Connector,
    topic: &str,
    timeout: Duration,
) -> Result<redis::aio::PubSub, BackendError> {
    let mut pubsub = connector.pubsub("control pub/sub connect").await?;
    within(timeout, "control subscribe", pubsub.subscribe(topic)).await?;
    Ok(pubsub)
}

/// The listening task's own copy of what it needs.
struct Listening {
    connector: Connector,
    topic: String,
    node: String,
    timeout: Duration,
    handler: Arc<dyn ControlHandler>,
}

impl Listening {
    async fn run(self, first: redis::aio::PubSub) {
        let mut next = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            let pubsub = match next.take() {
                Some(pubsub) => pubsub,
                None => match subscribe(&self.connector, &self.topic, self.timeout).await {
                    Ok(pubsub) => {
                        tracing::info!(node = %self.node, "redis control connection is back");
                        backoff = Duration::from_millis(100);
                        pubsub
                    }
                    Err(error) => {
                        tracing::warn!(node = %self.node, %error, "redis control reconnect failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                },
            };
            let (mut sink, mut stream) = pubsub.split();
            let mut ping = tokio::time::interval(PING_INTERVAL);
            ping.tick().await;
            loop {
                tokio::select! {
                    message = stream.next() => match message {
                        Some(message) => self.on_message(message.get_payload_bytes()).await,
                        None => break,
                    },
                    _ = ping.tick() => {
                        let pong = within(self.timeout, "control ping", sink.ping::<redis::Value>()).await;
                        if let Err(error) = pong {
                            tracing::warn!(node = %self.node, %error, "redis control ping failed");
                            break;
                        }
                    }
                }
            }
            self.connector.metrics().pubsub_reconnects.increment(1);
            tracing::warn!(node = %self.node, "lost the redis control connection; reconnecting");
        }
    }

    async fn on_message(&self, message: &[u8]) {
        let Some(space) = message.iter().position(|&byte| byte == b' ') else {
            tracing::warn!(node = %self.node, "control message without a sender; skipped");
            return;
        };
        if &message[..space] == self.node.as_bytes() {
            return;
        }
        let payload = Bytes::copy_from_slice(&message[space + 1..]);
        self.handler.apply(payload).await;
    }
}
