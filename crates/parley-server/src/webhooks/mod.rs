//! Webhooks: an app's channel and member events, batched, signed and
//! delivered to its receivers from a durable queue in the store.
//!
//! - [`event`]: [`WebhookEvent`] and the body `{"time_ms", "events"}`.
//! - `batcher`: batching per app, the hold-back of `member_removed` and
//!   `channel_vacated` (cancelled by a quick re-join), and queueing in the
//!   store.
//! - `delivery`: signed POSTs (`X-Pusher-Key`, `X-Pusher-Signature`) with
//!   exponential backoff, from the store's queue, so a restart loses none.
//!
//! [`Webhooks`] is the node's [`ChannelObserver`]: channel occupied,
//! vacated, subscription counts and presence members come from the core,
//! whichever protocol caused them; client events and cache misses come from
//! the Pusher session. With several nodes, `channel_occupied`,
//! `channel_vacated` and `subscription_count` come instead from the
//! cluster's occupancy (`cluster/occupancy.rs`), once for the deployment,
//! already held back ([`Webhooks::emit_decided`]).

mod batcher;
mod delivery;
pub mod event;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use parley_core::{ChannelEvent, ChannelName, ChannelObserver};
use parley_store::Store;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use event::WebhookEvent;

use crate::config::{AppConfig, WebhookConfig};

/// Events waiting for the batcher at most; past it events are dropped
/// (and counted), never buffered without bound.
const QUEUE: usize = 65_536;

/// The webhooks of every app of a server.
pub struct Webhooks {
    /// The configuration of each app that has receivers.
    configs: Arc<HashMap<Arc<str>, WebhookConfig>>,
    receivers: Arc<HashMap<Arc<str>, delivery::Receiver>>,
    sender: mpsc::Sender<batcher::Queued>,
    /// Taken by [`Webhooks::start`].
    events: Mutex<Option<mpsc::Receiver<batcher::Queued>>>,
    /// Wakes the deliverer when a batch was queued.
    wake: Arc<Notify>,
    /// With several nodes, `channel_occupied`, `channel_vacated` and
    /// `subscription_count` are the deployment's (`cluster/occupancy.rs`),
    /// not this node's own first and last subscribers and count.
    occupancy_decided_elsewhere: bool,
}

/// The running batcher and deliverer.
pub struct WebhookTasks {
    stop: CancellationToken,
    batcher: JoinHandle<()>,
    deliverer: JoinHandle<()>,
}

impl WebhookTasks {
    /// Stops both tasks and waits until the batcher has written what it
    /// held to the store. Call it once the connections are closed (so their
    /// last events are in), before closing the store.
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.batcher.await;
        let _ = self.deliverer.await;
    }
}

impl Webhooks {
    /// The webhooks of `apps` (those without receivers send none).
    pub fn new(apps: &[AppConfig]) -> Self {
        let with_urls = || apps.iter().filter(|app| !app.webhooks.urls.is_empty());
        let configs = with_urls()
            .map(|app| (Arc::from(app.id.as_str()), app.webhooks.clone()))
            .collect();
        let receivers = with_urls()
            .map(|app| {
                (
                    Arc::from(app.id.as_str()),
                    delivery::Receiver {
                        key: app.key.clone(),
                        secret: app.secret.clone(),
                        config: app.webhooks.clone(),
                    },
                )
            })
            .collect();
        let (sender, events) = mpsc::channel(QUEUE);
        Self {
            configs: Arc::new(configs),
            receivers: Arc::new(receivers),
            sender,
            events: Mutex::new(Some(events)),
            wake: Arc::new(Notify::new()),
            occupancy_decided_elsewhere: false,
        }
    }

    /// These webhooks, with `channel_occupied`, `channel_vacated` and
    /// `subscription_count` left to the cluster's occupancy, which sends
    /// them through [`Webhooks::emit_decided`].
    pub fn with_cluster_occupancy(mut self) -> Self {
        self.occupancy_decided_elsewhere = true;
        self
    }

    /// How long the cluster's occupancy holds a vacated channel of `app`
    /// back: the app's `hold_back` when it sends occupancy webhooks, else
    /// nothing.
    pub fn occupancy_hold_back(&self, app: &str) -> std::time::Duration {
        self.configs
            .get(app)
            .filter(|config| config.sends("channel_vacated") || config.sends("channel_occupied"))
            .map_or(std::time::Duration::ZERO, |config| config.hold_back)
    }

    /// Starts the batcher and the deliverer; they run until
    /// [`WebhookTasks::finish`]. The deliverer also sends what an earlier
    /// run left in the queue.
    pub fn start(&self, store: Store) -> Option<WebhookTasks> {
        let events = self.events.lock().take()?;
        let shutdown = CancellationToken::new();
        let batcher = tokio::spawn(batcher::run(
            events,
            self.configs.clone(),
            store.clone(),
            self.wake.clone(),
            shutdown.clone(),
        ));
        let deliverer = tokio::spawn(delivery::run(
            store,
            self.receivers.clone(),
            self.wake.clone(),
            shutdown.clone(),
        ));
        Some(WebhookTasks {
            stop: shutdown,
            batcher,
            deliverer,
        })
    }

    /// Whether any app has a webhook receiver. Without one the node needs
    /// no observer, and subscriptions pay nothing for webhooks.
    pub fn is_enabled(&self) -> bool {
        !self.configs.is_empty()
    }

    /// Whether `app` sends webhooks of `name`.
    pub fn wants(&self, app: &str, name: &str) -> bool {
        self.configs
            .get(app)
            .is_some_and(|config| config.sends(name))
    }

    /// Queues `event` of `app`, if the app sends that event; a
    /// `member_removed` or `channel_vacated` waits out the hold-back.
    pub fn emit(&self, app: &Arc<str>, event: WebhookEvent) {
        let hold = event.is_held_back();
        self.queue(app.clone(), event, hold);
    }

    /// Queues an event whose hold-back is already over (the cluster's
    /// occupancy held it, for the deployment), if `app` sends it.
    pub fn emit_decided(&self, app: &str, event: WebhookEvent) {
        if let Some((app, _)) = self.configs.get_key_value(app) {
            self.queue(app.clone(), event, false);
        }
    }

    fn queue(&self, app: Arc<str>, event: WebhookEvent, hold: bool) {
        if !self.wants(&app, event.name()) {
            return;
        }
        let queued = batcher::Queued { app, event, hold };
        if let Err(refused) = self.sender.try_send(queued) {
            metrics::counter!("parley_webhook_events_dropped_total").increment(1);
            let app = match refused {
                mpsc::error::TrySendError::Full(queued)
                | mpsc::error::TrySendError::Closed(queued) => queued.app,
            };
            tracing::warn!(%app, "webhook queue full; event dropped");
        }
    }
}

impl ChannelObserver for Webhooks {
    fn on_channel_event(&self, app: &str, channel: &ChannelName, event: ChannelEvent) {
        // A user's own channel (`#server-to-user-…`) is no channel to the
        // app's backend.
        if channel.as_str().starts_with('#') {
            return;
        }
        if self.occupancy_decided_elsewhere
            && matches!(
                event,
                ChannelEvent::Occupied | ChannelEvent::Vacated | ChannelEvent::SubscriptionCount(_)
            )
        {
            return;
        }
        if let Some((app, _)) = self.configs.get_key_value(app) {
            let app = app.clone();
            self.emit(&app, WebhookEvent::from_channel(channel.as_str(), event));
        }
    }
}
