//! The durable-stream seam: channel streams kept by a store, for the
//! namespaces that persist them.
//!
//! A channel's stream lives in one of two places, chosen by its namespace's
//! [`Durability`](crate::Durability): the [`Broker`](crate::Broker) keeps a
//! transient namespace's stream (bounded by `history_size`), and a store
//! behind this trait keeps a persisted namespace's stream. The server
//! registers the store with [`Node::persist_to`](crate::Node::persist_to);
//! from then on [`Node::publish`](crate::Node::publish),
//! [`Node::position`](crate::Node::position),
//! [`Node::recover`](crate::Node::recover) and
//! [`Node::history`](crate::Node::history) reach it, and no caller picks the
//! source itself.

use bytes::Bytes;

use crate::{
    BackendError, BoxFuture, ChannelName, ClientInfo, HistoryPage, HistoryQuery, StreamPosition,
    StreamSlice,
};

/// Channel streams kept durably: every publication gets the next offset in
/// the same transaction that keeps it, and reaches the node's live
/// subscribers in commit order before its publisher is answered.
pub trait DurableStreams: Send + Sync + 'static {
    /// Appends opaque `data` to the channel's stream and returns its
    /// position once it is durable. `info` goes to live delivery with it
    /// and is not kept.
    fn publish<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>>;

    /// The stream's position (epoch and last offset), creating the stream
    /// with a fresh epoch if the channel has none yet.
    fn position<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>>;

    /// The kept publications after offset `after`, at most `limit` (none
    /// with a limit of 0: the position alone), with whether they fill the
    /// gap.
    fn recover<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>>;

    /// One page of the stream's history, oldest first.
    fn history<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        query: HistoryQuery,
    ) -> BoxFuture<'a, Result<HistoryPage, BackendError>>;
}
