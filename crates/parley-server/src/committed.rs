//! The store's channel streams for the Redis broker: which channels are
//! persisted, and what the store committed to them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parley_cluster::CommittedStreams;
use parley_core::{BackendError, BoxFuture, ChannelName, Namespace, StreamSlice};
use parley_store::Store;

use crate::config::AppConfig;

/// The persisted namespaces of every app, read from the shared store.
pub struct StoreStreams {
    store: Store,
    /// The names of each app's persisted namespaces, by app id.
    persisted: HashMap<String, HashSet<String>>,
}

impl StoreStreams {
    /// The streams of `store`, for the persisted namespaces of `apps`.
    pub fn new(store: Store, apps: &[AppConfig]) -> Self {
        let persisted = apps
            .iter()
            .map(|app| {
                let names = app
                    .namespaces
                    .iter()
                    .filter(|(_, namespace)| namespace.persist)
                    .map(|(name, _)| name.clone())
                    .collect();
                (app.id.clone(), names)
            })
            .collect();
        Self { store, persisted }
    }
}

impl CommittedStreams for StoreStreams {
    fn holds(&self, app: &str, channel: &ChannelName) -> bool {
        let namespace = channel.namespace().unwrap_or(Namespace::DEFAULT);
        self.persisted
            .get(app)
            .is_some_and(|names| names.contains(namespace))
    }

    fn read<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>> {
        Box::pin(async move {
            let failed = |error: parley_store::StoreError| BackendError(format!("store: {error}"));
            if limit == 0 {
                let position = self.store.stream(app, channel).await.map_err(failed)?;
                return Ok(StreamSlice {
                    publications: Vec::new(),
                    complete: after == position.offset,
                    position,
                });
            }
            let recovery = self
                .store
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
}
