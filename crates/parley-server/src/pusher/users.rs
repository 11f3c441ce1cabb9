//! `SignedInUsers`: the Pusher connections that signed in (`pusher:signin`),
//! per app and user, and who watches whom (watchlists).
//!
//! A user is online while at least one of their connections is signed in;
//! their watchers hear `online` on the first and `offline` after the last.
//! With several nodes, "first" and "last" are the deployment's: the
//! cluster's occupancy counts each node's sign-ins and tells every node's
//! watchers ([`SignedInUsers::tell_watchers`]); a book made
//! [`SignedInUsers::for_cluster`] sends nothing by itself.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use parley_core::{ClientHandle, ClientId, Frame};
use serde::Serialize;

use super::push::internal_event;

type Key = (Arc<str>, Arc<str>);

/// Signed-in connections and watchlists of every app.
#[derive(Default)]
pub struct SignedInUsers {
    inner: Mutex<Inner>,
    /// Whether the deployment's sign-ins decide who is online (several
    /// nodes), not this node's.
    shared: bool,
}

#[derive(Default)]
struct Inner {
    /// (app, user) → the user's signed-in connections.
    connections: HashMap<Key, Vec<Arc<ClientHandle>>>,
    /// (app, watched user) → the connections watching them.
    watchers: HashMap<Key, Vec<Arc<ClientHandle>>>,
}

#[derive(Serialize)]
struct WatchlistEvents<'a> {
    events: Vec<WatchlistEvent<'a>>,
}

#[derive(Serialize)]
struct WatchlistEvent<'a> {
    name: &'a str,
    user_ids: Vec<&'a str>,
}

/// `pusher_internal:watchlist_events` with the `online` and `offline` users
/// given (empty lists are left out).
pub fn watchlist_frame(online: &[&str], offline: &[&str]) -> Frame {
    let mut events = Vec::new();
    for (name, users) in [("online", online), ("offline", offline)] {
        if !users.is_empty() {
            events.push(WatchlistEvent {
                name,
                user_ids: users.to_vec(),
            });
        }
    }
    internal_event(
        "pusher_internal:watchlist_events",
        None,
        &WatchlistEvents { events },
    )
}

impl SignedInUsers {
    /// A book whose online and offline come from the cluster: it tells no
    /// watcher by itself, and a new sign-in's watchlist state is the
    /// caller's to send.
    pub fn for_cluster() -> Self {
        Self {
            inner: Mutex::default(),
            shared: true,
        }
    }

    /// Signs `client` in as `user` watching `watchlist`. Tells the user's
    /// watchers they are online (on their first connection) and tells the
    /// client which watched users are online and which are not (neither
    /// for the cluster: see [`SignedInUsers::for_cluster`]).
    pub fn sign_in(
        &self,
        app: &Arc<str>,
        user: &Arc<str>,
        client: &Arc<ClientHandle>,
        watchlist: &[Arc<str>],
    ) {
        let mut inner = self.inner.lock();
        let key = (app.clone(), user.clone());
        let connections = inner.connections.entry(key.clone()).or_default();
        let first = connections.is_empty();
        connections.push(client.clone());
        if first
            && !self.shared
            && let Some(watchers) = inner.watchers.get(&key)
        {
            let frame = watchlist_frame(&[user], &[]);
            for watcher in watchers {
                let _ = watcher.send(frame.clone());
            }
        }
        if watchlist.is_empty() {
            return;
        }
        for watched in watchlist {
            inner
                .watchers
                .entry((app.clone(), watched.clone()))
                .or_default()
                .push(client.clone());
        }
        if self.shared {
            return;
        }
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for watched in watchlist {
            let key = (app.clone(), watched.clone());
            if inner.connections.contains_key(&key) {
                online.push(&**watched);
            } else {
                offline.push(&**watched);
            }
        }
        let _ = client.send(watchlist_frame(&online, &offline));
    }

    /// Forgets a signed-in connection; after the user's last, their
    /// watchers hear `offline`.
    pub fn sign_out(
        &self,
        app: &Arc<str>,
        user: &Arc<str>,
        client: ClientId,
        watchlist: &[Arc<str>],
    ) {
        let mut inner = self.inner.lock();
        for watched in watchlist {
            let key = (app.clone(), watched.clone());
            if let Some(watchers) = inner.watchers.get_mut(&key) {
                watchers.retain(|watcher| watcher.id != client);
                if watchers.is_empty() {
                    inner.watchers.remove(&key);
                }
            }
        }
        let key = (app.clone(), user.clone());
        let Some(connections) = inner.connections.get_mut(&key) else {
            return;
        };
        connections.retain(|connection| connection.id != client);
        if connections.is_empty() {
            inner.connections.remove(&key);
            if !self.shared
                && let Some(watchers) = inner.watchers.get(&key)
            {
                let frame = watchlist_frame(&[], &[user]);
                for watcher in watchers {
                    let _ = watcher.send(frame.clone());
                }
            }
        }
    }

    /// The signed-in connections of `user`.
    pub fn connections(&self, app: &str, user: &str) -> Vec<Arc<ClientHandle>> {
        let inner = self.inner.lock();
        inner
            .connections
            .get(&(Arc::from(app), Arc::from(user)))
            .cloned()
            .unwrap_or_default()
    }

    /// Every user with a signed-in connection here, as (app, user).
    pub fn signed_in(&self) -> Vec<(Arc<str>, Arc<str>)> {
        self.inner.lock().connections.keys().cloned().collect()
    }

    /// Tells the watchers here of `online` and `offline` users of `app`
    /// (as the deployment decided).
    pub fn tell_watchers(&self, app: &str, online: &[String], offline: &[String]) {
        let inner = self.inner.lock();
        let app: Arc<str> = Arc::from(app);
        let changes = online
            .iter()
            .map(|user| (user, watchlist_frame(&[user], &[])))
            .chain(
                offline
                    .iter()
                    .map(|user| (user, watchlist_frame(&[], &[user]))),
            );
        for (user, frame) in changes {
            if let Some(watchers) = inner.watchers.get(&(app.clone(), Arc::from(user.as_str()))) {
                for watcher in watchers {
                    // A refused push means the connection is closing.
                    let _ = watcher.send(frame.clone());
                }
            }
        }
    }
}
