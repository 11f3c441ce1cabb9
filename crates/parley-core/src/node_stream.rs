//! The node's channel streams: publishing, the stream position, recovery
//! and history, each served by the source the channel's namespace names.
//!
//! This is the one place that chooses between the broker (a transient
//! namespace: memory, or Redis in a cluster) and the durable store (a
//! persisted namespace), so a caller publishes, recovers and pages the
//! same way whatever keeps the stream.

use std::sync::Arc;

use bytes::Bytes;

use crate::{
    App, BackendError, ChannelName, ClientInfo, Durability, DurableStreams, Error, HistoryOptions,
    HistoryPage, HistoryQuery, Node, StreamPosition, StreamSlice,
};

impl Node {
    /// Registers the store that keeps persisted namespaces' streams. It is
    /// set once, when the server wires the node; returns false if one was
    /// set before.
    pub fn persist_to(&self, streams: Arc<dyn DurableStreams>) -> bool {
        self.durable.set(streams).is_ok()
    }

    /// The registered store, or why a persisted stream cannot be reached.
    fn durable(&self) -> Result<&dyn DurableStreams, Error> {
        self.durable.get().map(|streams| &**streams).ok_or_else(|| {
            Error::Store(BackendError(
                "no durable store is registered for persisted namespaces".into(),
            ))
        })
    }

    /// Publishes to a channel and returns the publication's stream
    /// position: appended to the store in a persisted namespace, and
    /// answered once durable; through the broker otherwise, kept as the
    /// namespace's `history_size` and `history_ttl` say.
    pub async fn publish(
        &self,
        app: &App,
        channel: &ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
    ) -> Result<StreamPosition, Error> {
        let namespace = app.namespace(channel).ok();
        if namespace.is_some_and(|namespace| namespace.durability == Durability::Persisted) {
            return self
                .durable()?
                .publish(&app.id, channel, data, info)
                .await
                .map_err(Error::Store);
        }
        let history = namespace
            .map(|namespace| HistoryOptions {
                size: namespace.history_size,
                ttl: namespace.history_ttl,
            })
            .unwrap_or_default();
        Ok(self
            .broker
            .publish(&app.id, channel, data, info, history)
            .await?)
    }

    /// The current position of a channel's stream: the position a new
    /// subscriber starts from.
    pub async fn position(
        &self,
        app: &App,
        channel: &ChannelName,
    ) -> Result<StreamPosition, Error> {
        match app.namespace(channel).map(|namespace| namespace.durability) {
            Ok(Durability::Persisted) => self
                .durable()?
                .position(&app.id, channel)
                .await
                .map_err(Error::Store),
            _ => Ok(self.broker.position(&app.id, channel).await?),
        }
    }

    /// What a client that saw up to offset `after` missed of a channel's
    /// stream, at most the namespace's
    /// [`recovery_limit`](crate::Namespace::recovery_limit): the
    /// publications after it, the stream's position, and whether they
    /// fill the gap. Whatever the source, the client is recovered only
    /// when the slice is complete and its epoch is the position's.
    ///
    /// In a cluster, a persisted stream read from the store is cut at what
    /// this node has delivered ([`Broker::delivered`]): later commits are
    /// still being relayed and reach the client live, held back for it
    /// until its replay is queued, so none arrives twice.
    ///
    /// [`Broker::delivered`]: crate::Broker::delivered
    pub async fn recover(
        &self,
        app: &App,
        channel: &ChannelName,
        after: u64,
    ) -> Result<StreamSlice, Error> {
        let namespace = app.namespace(channel)?;
        let limit = namespace.recovery_limit();
        match namespace.durability {
            Durability::Transient => {
                Ok(self.broker.recover(&app.id, channel, after, limit).await?)
            }
            Durability::Persisted => {
                let slice = self
                    .durable()?
                    .recover(&app.id, channel, after, limit)
                    .await
                    .map_err(Error::Store)?;
                Ok(match self.broker.delivered(&app.id, channel).await? {
                    Some(delivered) => slice.cut_at(after, &delivered),
                    None => slice,
                })
            }
        }
    }

    /// One page of a channel's history, oldest first, with the stream's
    /// position: from the store in a persisted namespace, from what the
    /// broker keeps otherwise (refused with [`Error::NoHistory`] where it
    /// keeps nothing). Every publication is in it; the caller leaves out
    /// what its reader may not see ([`Viewer::sees`](crate::Viewer::sees)).
    pub async fn history(
        &self,
        app: &App,
        channel: &ChannelName,
        query: HistoryQuery,
    ) -> Result<HistoryPage, Error> {
        let namespace = app.namespace(channel)?;
        match namespace.durability {
            Durability::Persisted => self
                .durable()?
                .history(&app.id, channel, query)
                .await
                .map_err(Error::Store),
            Durability::Transient => {
                if namespace.history_size == 0 {
                    return Err(Error::NoHistory);
                }
                let kept = self
                    .broker
                    .recover(&app.id, channel, 0, namespace.history_size)
                    .await?;
                Ok(HistoryPage::of_kept(kept, query))
            }
        }
    }
}
