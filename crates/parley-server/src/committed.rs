//! The store's channel streams for the Redis broker: which channels are
//! persisted, and what the store committed to them.

use std::collections::{HashMap, HashSet};

use parley_cluster::CommittedStreams;
use parley_core::{ChannelName, DurableStreams, Namespace};
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

    fn streams(&self) -> &dyn DurableStreams {
        &self.store
    }
}
