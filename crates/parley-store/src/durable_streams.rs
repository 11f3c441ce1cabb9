//! The store as the core's [`DurableStreams`]: the streams of persisted
//! namespaces, which the node reaches for publishing, positions, recovery
//! and history (registered with `Node::persist_to`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parley_core::{
    BackendError, BoxFuture, ChannelName, ClientInfo, DurableStreams, HistoryEntry, HistoryPage,
    HistoryQuery, StreamPosition, StreamSlice,
};

use crate::{Store, StoreError, Timestamp};

impl DurableStreams for Store {
    fn publish<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        Box::pin(async move {
            let stored = Store::publish(self, Arc::from(app), channel.clone(), data, info)
                .await
                .map_err(failed)?;
            Ok(stored.position)
        })
    }

    fn position<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        Box::pin(async move { self.stream(app, channel).await.map_err(failed) })
    }

    fn recover<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>> {
        Box::pin(async move {
            if limit == 0 {
                let position = self.stream(app, channel).await.map_err(failed)?;
                return Ok(StreamSlice {
                    publications: Vec::new(),
                    complete: after == position.offset,
                    position,
                });
            }
            let recovery = self
                .publications_after(app, channel, after, limit)
                .await
                .map_err(failed)?;
            Ok(StreamSlice {
                publications: recovery
                    .publications
                    .iter()
                    .map(|publication| Arc::new(publication.to_publication(None)))
                    .collect(),
                position: recovery.position,
                complete: recovery.complete,
            })
        })
    }

    fn history<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        query: HistoryQuery,
    ) -> BoxFuture<'a, Result<HistoryPage, BackendError>> {
        Box::pin(async move {
            let page = Store::history(self, app, channel, query)
                .await
                .map_err(failed)?;
            Ok(HistoryPage {
                entries: page
                    .publications
                    .iter()
                    .map(|publication| HistoryEntry {
                        publication: Arc::new(publication.to_publication(None)),
                        created_at: Some(system_time(publication.created_at)),
                    })
                    .collect(),
                position: page.position,
                has_older: page.has_older,
                has_newer: page.has_newer,
            })
        })
    }
}

/// A store failure as the core carries it; the server logs it and tells
/// clients only that the server failed.
fn failed(error: StoreError) -> BackendError {
    BackendError(format!("store: {error}"))
}

/// The time a store timestamp names, exactly (before 1970 too).
fn system_time(timestamp: Timestamp) -> SystemTime {
    let millis = timestamp.as_millis();
    let span = Duration::from_millis(millis.unsigned_abs());
    if millis >= 0 {
        UNIX_EPOCH + span
    } else {
        UNIX_EPOCH - span
    }
}
