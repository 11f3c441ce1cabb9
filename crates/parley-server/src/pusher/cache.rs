//! `EventCache`: the last event of each `cache-` channel, kept for
//! `cache_ttl` and replayed to each new subscriber: in this process, or,
//! with several nodes, in Redis ([`SharedCache`]), so a subscriber on any
//! node gets the event sent through another.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use parley_cluster::SharedCache;
use serde_json::value::RawValue;

use super::push::{Event, internal_event};
use super::session::PusherSession;
use crate::webhooks::WebhookEvent;

/// The prefixes of cache channels.
const CACHE_PREFIXES: [&str; 4] = [
    "cache-",
    "private-cache-",
    "presence-cache-",
    "private-encrypted-cache-",
];

/// Whether `name` is a cache channel.
pub fn is_cache_channel(name: &str) -> bool {
    CACHE_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// A cached event: its name and its data as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEvent {
    /// The event name.
    pub event: String,
    /// The event data (JSON text).
    pub data: String,
}

/// The last event of each cache channel, per app.
#[derive(Default)]
pub struct EventCache {
    events: Mutex<HashMap<(String, String), (CachedEvent, Instant)>>,
    /// With several nodes: the deployment's cache, used in place of
    /// `events`.
    shared: Option<Arc<SharedCache>>,
}

/// Cached channels kept at most; past it the stalest entries go first.
const MAX_ENTRIES: usize = 100_000;

impl EventCache {
    /// A cache kept in Redis for the deployment.
    pub fn shared(cache: Arc<SharedCache>) -> Self {
        Self {
            events: Mutex::default(),
            shared: Some(cache),
        }
    }

    /// Keeps `event` as the last of `channel` for `ttl`, if it is a cache
    /// channel. Callers check [`is_cache_channel`] first, to build no
    /// event for other channels. A shared cache Redis does not answer
    /// keeps nothing (logged): a later subscriber gets a cache miss.
    pub async fn keep(&self, app: &str, channel: &str, event: CachedEvent, ttl: Duration) {
        if !is_cache_channel(channel) {
            return;
        }
        if let Some(shared) = &self.shared {
            let value = serde_json::to_vec(&(&event.event, &event.data))
                .expect("strings serialize to JSON");
            if let Err(error) = shared.keep(app, channel, &value, ttl).await {
                tracing::warn!(%channel, %error, "cannot keep a cache channel's event in Redis");
            }
            return;
        }
        let mut events = self.events.lock();
        if events.len() >= MAX_ENTRIES {
            let oldest = events
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                events.remove(&oldest);
            }
        }
        events.insert(
            (app.to_owned(), channel.to_owned()),
            (event, Instant::now()),
        );
    }

    /// The last event of `channel` if it is younger than `ttl`.
    pub async fn last(&self, app: &str, channel: &str, ttl: Duration) -> Option<CachedEvent> {
        if let Some(shared) = &self.shared {
            let value = match shared.last(app, channel).await {
                Ok(value) => value?,
                Err(error) => {
                    tracing::warn!(%channel, %error, "cannot read a cache channel's event from Redis");
                    return None;
                }
            };
            let (event, data): (String, String) = serde_json::from_slice(&value).ok()?;
            return Some(CachedEvent { event, data });
        }
        let mut events = self.events.lock();
        let key = (app.to_owned(), channel.to_owned());
        match events.get(&key) {
            Some((event, at)) if at.elapsed() < ttl => Some(event.clone()),
            Some(_) => {
                events.remove(&key);
                None
            }
            None => None,
        }
    }
}

impl PusherSession {
    /// Sends a new subscriber of a cache channel its last event, or
    /// `pusher:cache_miss` (and a `cache_miss` webhook) when it has none.
    pub(super) async fn replay_cache(&self, name: &str) {
        let ttl = self.app.config.pusher.cache_ttl;
        match self
            .server
            .pusher
            .cache
            .last(&self.app.app.id, name, ttl)
            .await
        {
            Some(CachedEvent { event, data }) => {
                let data: &RawValue = serde_json::from_str(&data).unwrap_or(RawValue::NULL);
                self.send(
                    Event {
                        event: &event,
                        channel: Some(name),
                        data,
                        user_id: None,
                    }
                    .frame(),
                );
            }
            None => {
                self.send(internal_event(
                    "pusher:cache_miss",
                    Some(name),
                    &serde_json::Map::new(),
                ));
                self.server.webhooks.emit(
                    &self.app.app.id,
                    WebhookEvent::CacheMiss {
                        channel: name.to_owned(),
                    },
                );
            }
        }
    }
}
