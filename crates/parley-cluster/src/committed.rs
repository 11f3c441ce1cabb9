//! The store's channel streams, as the cluster broker sees them.
//!
//! A persisted namespace's offsets come from the durable store, which every
//! node of the deployment shares (PostgreSQL); Redis only carries its
//! committed publications from the committing node to the others. Each
//! node delivers them in offset order, and reads from the store what did
//! not arrive.

use parley_core::{ChannelName, DurableStreams};

/// The channel streams of the durable store.
pub trait CommittedStreams: Send + Sync + 'static {
    /// Whether the channel's stream is the store's (its namespace is
    /// persisted) rather than the broker's.
    fn holds(&self, app: &str, channel: &ChannelName) -> bool;

    /// The store itself, which the broker reads a persisted channel's
    /// stream from: its position, and its committed publications after an
    /// offset ([`DurableStreams::recover`]).
    fn streams(&self) -> &dyn DurableStreams;
}
