//! The broker seam: publish to a channel, on this node or across nodes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{ChannelName, ClientInfo, Publication, StreamPosition};

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

/// Publications after a position, for a client that recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSlice {
    /// The publications, oldest first.
    pub publications: Vec<Arc<Publication>>,
    /// The stream's position when read.
    pub position: StreamPosition,
    /// Whether `publications` holds everything after the asked offset (no
    /// publication expired or was pushed out, and none past the limit).
    pub complete: bool,
}

impl StreamSlice {
    /// The slice cut at `position`, an earlier position of the same stream:
    /// what it holds up to there, and whether that is everything after
    /// `after`. A position of another epoch, or a later one, changes
    /// nothing.
    pub fn cut_at(mut self, after: u64, position: &StreamPosition) -> Self {
        if position.epoch != self.position.epoch || position.offset >= self.position.offset {
            return self;
        }
        self.publications
            .retain(|publication| publication.position.offset <= position.offset);
        self.complete =
            after <= position.offset && self.publications.len() as u64 == position.offset - after;
        self.position = position.clone();
        self
    }
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
    /// happened: they are told to reconnect and recover.
    fn handle_gap(&self, app: &str, channel: &ChannelName);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PublicationKind;

    fn slice(offsets: std::ops::RangeInclusive<u64>, last: u64) -> StreamSlice {
        let epoch: Arc<str> = Arc::from("e");
        StreamSlice {
            publications: offsets
                .map(|offset| {
                    Arc::new(Publication {
                        channel: ChannelName::new("c").unwrap(),
                        kind: PublicationKind::Publication,
                        data: bytes::Bytes::new(),
                        position: StreamPosition {
                            offset,
                            epoch: epoch.clone(),
                        },
                        info: None,
                        author: None,
                        audience: None,
                    })
                })
                .collect(),
            position: StreamPosition {
                offset: last,
                epoch,
            },
            complete: true,
        }
    }

    fn at(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: Arc::from(epoch),
        }
    }

    #[test]
    fn a_slice_cut_at_an_earlier_position_ends_there() {
        let cut = slice(3..=6, 6).cut_at(2, &at(4, "e"));
        assert_eq!(cut.position, at(4, "e"));
        assert_eq!(cut.publications.len(), 2);
        assert!(cut.complete);
        // A cut behind the client's offset recovers nothing.
        assert!(!slice(3..=6, 6).cut_at(5, &at(4, "e")).complete);
        // Another epoch, or a later position, leaves the slice as it is.
        assert_eq!(slice(3..=6, 6).cut_at(2, &at(4, "x")), slice(3..=6, 6));
        assert_eq!(slice(3..=6, 6).cut_at(2, &at(9, "e")), slice(3..=6, 6));
        // An incomplete slice (offset 3 was trimmed) is complete up to a
        // position it fully holds.
        let mut trimmed = slice(4..=6, 6);
        trimmed.complete = false;
        assert!(trimmed.cut_at(3, &at(5, "e")).complete);
    }
}
