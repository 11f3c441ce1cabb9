//! The broker seam: publish to a channel, on this node or across nodes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{ChannelName, ClientInfo, Publication, StreamPosition, StreamSlice};

/// A boxed future, for the object-safe async methods of [`Broker`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an operation of a backend (a broker or a presence store) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backend: {0}")]
pub struct BackendError(pub String);

/// How much of a channel's stream the broker keeps for recovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Publications kept at most; 0 keeps none.
    pub size: usize,
    /// How long a publication is kept; zero keeps it until `size` pushes it
    /// out.
    pub ttl: Duration,
}

/// Receives the publications a broker delivers to this node.
pub trait BrokerEventHandler: Send + Sync + 'static {
    /// Called once per publication to a channel this node subscribed to, in
    /// stream order per channel.
    fn handle_publication(&self, app: &str, publication: Arc<Publication>);

    /// Called when the broker knows this node missed publications of
    /// `channel` that it cannot deliver any more (a cluster broker lost its
    /// connection, and the channel's history no longer holds them). The
    /// node's subscribers of the channel must not go on as if nothing had
    /// happened: they are told to reconnect and recover. Returns how many
    /// subscribers were closed.
    fn handle_gap(&self, app: &str, channel: &ChannelName) -> usize;
}

/// Gives every publication its stream position and delivers it to every
/// node with subscribers to its channel.
///
/// A broker is built with the [`BrokerEventHandler`] of its node. Saving a
/// publication's position and delivering it are one step per channel, so
/// every subscriber sees a channel's offsets in order. The in-memory broker
/// serves one node; cluster brokers (Redis, NATS) implement the same trait.
pub trait Broker: Send + Sync + 'static {
    /// Publishes `data` to `channel` of `app` and returns its position,
    /// keeping it for recovery as `history` says.
    fn publish<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
        history: HistoryOptions,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>>;

    /// The kept publications after offset `after`, at most `limit`.
    fn recover<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>>;

    /// The channel stream's current position: its epoch and last offset (0
    /// before any publication).
    fn position<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>>;

    /// How far this node has delivered the durable stream of `channel`,
    /// for a broker that relays the store's commits between nodes (a
    /// cluster broker): a recovery read from the store is cut there, so
    /// later commits, still on their way, reach the client live and once.
    /// `None`, the default, from a broker whose node hears the store's
    /// commits itself, in commit order before the writer answers.
    fn delivered<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Option<StreamPosition>, BackendError>> {
        let _ = (app, channel);
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Tells the broker that this node has one more subscriber to
    /// `channel`, so publications from other nodes reach it. Called for
    /// every local subscription; a cluster broker counts them, listens to
    /// the channel from the first on and returns only once publications
    /// made from then on are sure to reach this node.
    fn subscribe<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Tells the broker that this node has one subscriber fewer to
    /// `channel`; after the last, the broker may stop listening to it.
    fn unsubscribe<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
}
