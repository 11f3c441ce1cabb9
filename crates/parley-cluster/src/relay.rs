//! Relaying the store's commits: what this node committed to a persisted
//! channel goes to the other nodes through the channel's topic, and to this
//! node's own subscribers through the same ordered delivery as everything
//! else.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parley_core::{BrokerEventHandler, ChannelName, Publication};
use tokio::sync::mpsc;

use crate::broker_redis::Streams;
use crate::codec;
use crate::metrics::ClusterMetrics;

/// Commits waiting to be published to Redis, or to be delivered here, at
/// most (each). Past it a commit is not relayed (logged): the other nodes
/// read it from the store once a later one shows it missing.
pub(crate) const RELAY_QUEUE: usize = 65_536;

/// The store's delivery handler on a node of a Redis cluster.
pub(crate) struct CommitRelay {
    pub(crate) streams: Arc<Streams>,
    /// Into this node's ordered delivery.
    pub(crate) feed: mpsc::Sender<(Arc<str>, Arc<Publication>)>,
    /// To the relay task, which publishes to Redis in commit order.
    pub(crate) outbound: mpsc::Sender<(String, Vec<u8>)>,
    pub(crate) handler: Arc<dyn BrokerEventHandler>,
    pub(crate) metrics: ClusterMetrics,
}

impl BrokerEventHandler for CommitRelay {
    fn handle_publication(&self, app: &str, publication: Arc<Publication>) {
        let topic = self.streams.topic(app, &publication.channel);
        let message = codec::encode_message(app, &publication);
        if self.outbound.try_send((topic, message)).is_err() {
            self.metrics.relay_dropped.increment(1);
            tracing::warn!(
                channel = %publication.channel,
                offset = publication.position.offset,
                "relay queue full: a commit is not relayed to the other nodes"
            );
        }
        if self.feed.try_send((Arc::from(app), publication)).is_err() {
            tracing::warn!("delivery queue full: a commit waits for its copy from redis");
        }
    }

    fn handle_gap(&self, app: &str, channel: &ChannelName) -> usize {
        self.handler.handle_gap(app, channel)
    }
}

/// Publishes relayed commits to their topics, one at a time so each
/// channel's go out in commit order. A commit that cannot be published
/// (Redis is away) is tried again, with the ones after it, until Redis is
/// back: the other nodes skip what they had already read from the store.
/// At most [`RELAY_QUEUE`] wait; past it the oldest are given up (the
/// other nodes read them from the store once a later one shows them
/// missing).
pub(crate) async fn publish_commits(
    streams: Arc<Streams>,
    mut outbound: mpsc::Receiver<(String, Vec<u8>)>,
    metrics: ClusterMetrics,
) {
    let mut backlog: VecDeque<(String, Vec<u8>)> = VecDeque::new();
    let mut wait = MIN_RETRY;
    loop {
        if backlog.is_empty() {
            match outbound.recv().await {
                Some(commit) => backlog.push_back(commit),
                None => return,
            }
        }
        while let Ok(commit) = outbound.try_recv() {
            if backlog.len() == RELAY_QUEUE {
                backlog.pop_front();
                metrics.relay_dropped.increment(1);
                tracing::warn!("relay backlog full: the oldest commit is not relayed");
            }
            backlog.push_back(commit);
        }
        metrics.relay_backlog.set(backlog.len() as f64);
        while let Some((topic, message)) = backlog.front() {
            match streams.relay(topic, message).await {
                Ok(()) => {
                    backlog.pop_front();
                    metrics.relay_backlog.set(backlog.len() as f64);
                    wait = MIN_RETRY;
                }
                Err(error) => {
                    tracing::warn!(topic, %error, waiting = backlog.len(), "relaying commits failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY);
                    break;
                }
            }
        }
    }
}

/// The first wait before relaying again after a failure.
const MIN_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between two relay attempts.
const MAX_RETRY: Duration = Duration::from_secs(5);
