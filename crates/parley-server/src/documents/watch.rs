//! Live queries (`doc_watch`): a connection's query over a channel's
//! documents, answered with its result and then kept current with
//! `query_changed {query, added, updated, removed}` pushes.
//!
//! Watches are evaluated on the node where the watcher is connected, from
//! the channel's committed `doc_changed` events as this node receives them
//! (from its own store's writer, or through the cluster broker from
//! another node's), so a watch sees every write whichever node made it.
//! Each watched channel has a *feed*: a client handle of the server's own,
//! subscribed to the channel like any connection, whose bounded queue a
//! task drains. When a batch of events arrives the task runs each distinct
//! query of the channel once against the store and pushes to each watcher
//! the difference from the result it last sent. A feed that falls behind
//! is closed as slow like any client; the task then subscribes a new one
//! and refreshes every watch, so nothing is missed, only coalesced.
//!
//! A watch starts *pending*: the connection's reply (its first result) has
//! to be queued before any `query_changed`, so the session
//! [`activates`](Watches::activate) it after replying; an event that
//! arrives meanwhile marks it for a refresh on activation.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use parley_core::{App, ChannelName, ClientHandle, Encoder, Frame, Node};
use parley_store::{Document, DocumentChanged, DocumentQuery};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::chat::{Chat, ChatError};
use crate::json::documents::document_value;

/// The most watches one connection holds at once.
pub const MAX_WATCHES_PER_CONNECTION: usize = 20;

/// A watched channel: its app and its name.
type ChannelKey = (Arc<str>, ChannelName);

/// The watches of this node, by channel.
pub struct Watches {
    chat: Chat,
    /// The native encoder: feeds read the `doc_changed` pushes it writes.
    encoder: Encoder,
    next_id: AtomicU64,
    channels: Mutex<HashMap<ChannelKey, Arc<ChannelWatches>>>,
    /// Every feed task, ended by the server's shutdown or the channel's
    /// last unwatch.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The watches of one channel and its feed.
struct ChannelWatches {
    app: Arc<App>,
    channel: ChannelName,
    state: Mutex<ChannelState>,
    /// Wakes the task for an activation that needs a refresh.
    wake: Notify,
    /// Ends the task once the channel has no watch left.
    stop: CancellationToken,
}

#[derive(Default)]
struct ChannelState {
    watches: HashMap<u64, Watch>,
}

struct Watch {
    client: Arc<ClientHandle>,
    query: DocumentQuery,
    /// The keys and versions the watcher holds, in order; `None` while the
    /// watch is pending.
    result: Option<Vec<(String, u64)>>,
    /// An event arrived while pending, or since the last refresh.
    dirty: bool,
}

impl Watches {
    /// No watches yet; feeds encode with `encoder` (the native one) and
    /// end at `shutdown`.
    pub fn new(chat: Chat, encoder: Encoder, shutdown: CancellationToken) -> Self {
        Self {
            chat,
            encoder,
            next_id: AtomicU64::new(1),
            channels: Mutex::default(),
            tasks: TaskTracker::new(),
            shutdown,
        }
    }

    /// Starts a pending watch of `client` over the channel (permission is
    /// the caller's to check) and returns its id and first result. The
    /// caller replies, then calls [`Watches::activate`].
    pub async fn watch(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
        client: &Arc<ClientHandle>,
        query: DocumentQuery,
    ) -> Result<(u64, Vec<Document>), ChatError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        loop {
            let watches = self.channel(app, channel).await?;
            let mut state = watches.state.lock();
            // The channel's last watch may have ended since it was found:
            // its feed is stopping, so start over with a new one. (The stop
            // is decided under this lock, see `unwatch`.)
            if watches.stop.is_cancelled() {
                continue;
            }
            state.watches.insert(
                id,
                Watch {
                    client: client.clone(),
                    query: query.clone(),
                    result: None,
                    dirty: false,
                },
            );
            break;
        }
        // Read after the watch is in, so a write committed after this read
        // reaches the feed with the watch there to be marked.
        match self.chat.store().documents(&app.id, channel, &query).await {
            Ok(page) => Ok((id, page.documents)),
            Err(error) => {
                self.unwatch(&app.id, channel, id);
                Err(error.into())
            }
        }
    }

    /// Ends pending for a watch whose reply is queued: from now on changes
    /// of its result are pushed.
    pub fn activate(&self, app: &str, channel: &ChannelName, id: u64, result: &[Document]) {
        let Some(watches) = self.find(app, channel) else {
            return;
        };
        let refresh = {
            let mut state = watches.state.lock();
            let Some(watch) = state.watches.get_mut(&id) else {
                return;
            };
            watch.result = Some(versions(result));
            watch.dirty
        };
        if refresh {
            watches.wake.notify_one();
        }
    }

    /// Waits for every feed task to end, once shutdown began (which
    /// stops them) and the connections are closed (which ended their
    /// watches).
    pub async fn finish(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Ends a watch; the last of a channel ends its feed.
    pub fn unwatch(&self, app: &str, channel: &ChannelName, id: u64) {
        let key = (Arc::from(app), channel.clone());
        let mut channels = self.channels.lock();
        let Some(watches) = channels.get(&key) else {
            return;
        };
        let mut state = watches.state.lock();
        state.watches.remove(&id);
        if state.watches.is_empty() {
            // Stopped under the state lock, so a watch being added now
            // either lands before (and keeps the feed) or sees the stop.
            watches.stop.cancel();
            drop(state);
            channels.remove(&key);
        }
    }

    fn find(&self, app: &str, channel: &ChannelName) -> Option<Arc<ChannelWatches>> {
        self.channels
            .lock()
            .get(&(Arc::from(app), channel.clone()))
            .cloned()
    }

    /// The channel's watches, with a feed subscribed and its task running.
    async fn channel(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
    ) -> Result<Arc<ChannelWatches>, ChatError> {
        if let Some(watches) = self.find(&app.id, channel) {
            return Ok(watches);
        }
        let feed = self.subscribe_feed(app, channel).await?;
        let created = Arc::new(ChannelWatches {
            app: app.clone(),
            channel: channel.clone(),
            state: Mutex::default(),
            wake: Notify::new(),
            stop: self.shutdown.child_token(),
        });
        let watches = {
            let mut channels = self.channels.lock();
            channels
                .entry((app.id.clone(), channel.clone()))
                .or_insert_with(|| created.clone())
                .clone()
        };
        if !Arc::ptr_eq(&watches, &created) {
            // Another watcher created the channel's feed meanwhile.
            self.chat.node().unsubscribe(app, feed.id, channel).await;
            return Ok(watches);
        }
        self.tasks.spawn(run_feed(
            self.chat.clone(),
            self.encoder.clone(),
            watches.clone(),
            feed,
        ));
        Ok(watches)
    }

    async fn subscribe_feed(
        &self,
        app: &Arc<App>,
        channel: &ChannelName,
    ) -> Result<Arc<ClientHandle>, ChatError> {
        subscribe_feed(self.chat.node(), &self.encoder, app, channel).await
    }
}

async fn subscribe_feed(
    node: &Arc<Node>,
    encoder: &Encoder,
    app: &Arc<App>,
    channel: &ChannelName,
) -> Result<Arc<ClientHandle>, ChatError> {
    let feed = node.new_client(app, encoder);
    node.subscribe(app, &feed, channel, false).await?;
    Ok(feed)
}

/// The task of one channel's feed: drains it, and refreshes the watches a
/// batch of events (or an activation) may have changed.
async fn run_feed(
    chat: Chat,
    encoder: Encoder,
    watches: Arc<ChannelWatches>,
    mut feed: Arc<ClientHandle>,
) {
    let node = chat.node().clone();
    let mut frames = Vec::new();
    loop {
        tokio::select! {
            () = watches.stop.cancelled() => break,
            () = feed.queue().ready() => {}
            () = watches.wake.notified() => {}
        }
        frames.clear();
        let closed = feed.queue().drain_into(&mut frames);
        let mut changed = frames.iter().any(is_document_change);
        if closed.is_some() {
            // Fell behind: a new feed, and a refresh of every watch, since
            // events were dropped.
            node.unsubscribe(&watches.app, feed.id, &watches.channel)
                .await;
            match resubscribe(&node, &encoder, &watches).await {
                Some(fresh) => feed = fresh,
                None => return,
            }
            changed = true;
        }
        refresh(&chat, &watches, changed).await;
    }
    node.unsubscribe(&watches.app, feed.id, &watches.channel)
        .await;
}

/// A new feed for the channel, retried every second while the broker
/// refuses; `None` once the channel's watches are stopped.
async fn resubscribe(
    node: &Arc<Node>,
    encoder: &Encoder,
    watches: &ChannelWatches,
) -> Option<Arc<ClientHandle>> {
    loop {
        match subscribe_feed(node, encoder, &watches.app, &watches.channel).await {
            Ok(feed) => return Some(feed),
            Err(error) => {
                tracing::warn!(?error, channel = %watches.channel, "cannot subscribe a watch feed");
            }
        }
        tokio::select! {
            () = watches.stop.cancelled() => return None,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

fn is_document_change(frame: &Frame) -> bool {
    // The native push starts {"push":"<kind>", so the kind is read without
    // parsing the payload.
    frame
        .as_str()
        .starts_with(&format!(r#"{{"push":"{}""#, DocumentChanged::KIND.as_str()))
}

/// Runs the queries of the watches to refresh (every watch when the
/// channel `changed`, else those marked) and pushes their differences.
async fn refresh(chat: &Chat, watches: &ChannelWatches, changed: bool) {
    // Distinct queries, each with the active watches that asked it.
    let mut queries: Vec<(DocumentQuery, Vec<u64>)> = Vec::new();
    {
        let mut state = watches.state.lock();
        for (id, watch) in &mut state.watches {
            if changed {
                watch.dirty = true;
            }
            if !watch.dirty || watch.result.is_none() {
                continue;
            }
            watch.dirty = false;
            match queries.iter_mut().find(|(query, _)| *query == watch.query) {
                Some((_, ids)) => ids.push(*id),
                None => queries.push((watch.query.clone(), vec![*id])),
            }
        }
    }
    for (query, ids) in queries {
        let documents = match chat
            .store()
            .documents(&watches.app.id, &watches.channel, &query)
            .await
        {
            Ok(page) => page.documents,
            Err(error) => {
                tracing::warn!(%error, channel = %watches.channel, "a watch's query failed");
                let mut state = watches.state.lock();
                for id in ids {
                    if let Some(watch) = state.watches.get_mut(&id) {
                        watch.dirty = true;
                    }
                }
                continue;
            }
        };
        let now = versions(&documents);
        let mut state = watches.state.lock();
        for id in ids {
            let Some(watch) = state.watches.get_mut(&id) else {
                continue;
            };
            let Some(before) = watch.result.replace(now.clone()) else {
                continue;
            };
            if let Some(push) = difference(id, &watches.channel, &before, &documents) {
                // A refused push means the watcher's queue is closing; its
                // session ends the watch.
                let _ = watch.client.send(push);
            }
        }
    }
}

fn versions(documents: &[Document]) -> Vec<(String, u64)> {
    documents
        .iter()
        .map(|document| (document.key.clone(), document.version))
        .collect()
}

/// The `query_changed` push from `before` to `now`, if anything changed:
/// documents that entered the result, those in both at a new version, and
/// the keys of those that left it.
fn difference(
    id: u64,
    channel: &ChannelName,
    before: &[(String, u64)],
    now: &[Document],
) -> Option<Frame> {
    let old: HashMap<&str, u64> = before
        .iter()
        .map(|(key, version)| (key.as_str(), *version))
        .collect();
    let mut added = Vec::new();
    let mut updated = Vec::new();
    for document in now {
        match old.get(document.key.as_str()) {
            None => added.push(document_value(document)),
            Some(version) if *version != document.version => {
                updated.push(document_value(document));
            }
            Some(_) => {}
        }
    }
    let removed: Vec<&str> = before
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| !now.iter().any(|document| document.key == *key))
        .collect();
    if added.is_empty() && updated.is_empty() && removed.is_empty() {
        return None;
    }
    let push = QueryChanged {
        push: "query_changed",
        channel: channel.as_str(),
        query: id.to_string(),
        added,
        updated,
        removed,
        keys: now.iter().map(|document| document.key.as_str()).collect(),
    };
    let text = serde_json::to_string(&push).expect("a push of JSON values serializes");
    Some(Frame::new(text))
}

/// The `query_changed` push, its fields in this order (`push` first, as in
/// every native push).
#[derive(Serialize)]
struct QueryChanged<'a> {
    push: &'static str,
    channel: &'a str,
    query: String,
    added: Vec<Value>,
    updated: Vec<Value>,
    removed: Vec<&'a str>,
    keys: Vec<&'a str>,
}
