//! The presence topic: a node's presence changes (joins, leaves, new
//! states, counts, typing, status) on their way to the other nodes, which
//! push them to their own subscribers.
//!
//! It is a [`ControlBus`] on a topic of its own (`<prefix>:presence`), so
//! a burst of joins never delays a ban. Changes leave in the order the node
//! made them, through one bounded queue and one task; a node that cannot
//! publish them fast enough (or at all: Redis is away) drops them and logs
//! it. The presence itself is in Redis, so nothing is lost but pushes: a
//! client's member list catches up at its next `presence` read.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{BackendError, BoxFuture, Node, PresenceEvent, PresenceRelay};
use tokio::sync::mpsc;

use crate::broker_redis::RedisOptions;
use crate::control::{ControlBus, ControlHandler, ControlListener};
use crate::presence_codec::{decode_event, encode_event};

/// How many changes may wait to be published.
const QUEUE: usize = 10_000;

/// A node's side of the presence topic: the sending queue and its task.
/// The task stops when the bus is dropped.
pub struct PresenceBus {
    queue: mpsc::Sender<Vec<u8>>,
    bus: Arc<ControlBus>,
    sender: tokio::task::JoinHandle<()>,
}

impl Drop for PresenceBus {
    fn drop(&mut self) {
        self.sender.abort();
    }
}

impl PresenceBus {
    /// Connects to the presence topic, so an unreachable Redis fails the
    /// start, and starts the task that publishes this node's changes.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        let bus = Arc::new(ControlBus::connect_topic(options, "presence").await?);
        let (queue, mut changes) = mpsc::channel::<Vec<u8>>(QUEUE);
        let publisher = bus.clone();
        let sender = tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                if let Err(error) = publisher.publish(&change).await {
                    tracing::warn!(node = %publisher.node(), %error, "a presence change did not reach the other nodes");
                }
            }
        });
        Ok(Self { queue, bus, sender })
    }

    /// Hands every other node's changes to `node` until the listener is
    /// dropped. Returns once the topic's SUBSCRIBE took effect.
    pub async fn listen(&self, node: Arc<Node>) -> Result<ControlListener, BackendError> {
        self.bus.listen(Arc::new(Applier { node })).await
    }
}

impl PresenceRelay for PresenceBus {
    fn relay(&self, event: PresenceEvent) {
        if self.queue.try_send(encode_event(&event)).is_err() {
            tracing::warn!(node = %self.bus.node(), "presence relay queue full; a change was not sent to the other nodes");
        }
    }
}

/// Applies other nodes' changes to this one.
struct Applier {
    node: Arc<Node>,
}

impl ControlHandler for Applier {
    fn apply(&self, payload: Bytes) -> BoxFuture<'_, ()> {
        match decode_event(payload) {
            Ok(event) => self.node.apply_presence_event(event),
            Err(error) => tracing::warn!(%error, "dropped a presence change"),
        }
        Box::pin(std::future::ready(()))
    }
}
