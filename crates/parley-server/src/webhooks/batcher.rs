//! The batcher: collects an app's webhook events for `batch_window`, holds
//! `member_removed` and `channel_vacated` back for `hold_back` (a quick
//! re-join or re-subscribe cancels both), and writes each batch to the
//! store's durable queue, one delivery per receiver.

use std::collections::HashMap;
use std::sync::Arc;

use parley_store::{NewWebhook, Store, Timestamp};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::{WebhookBody, WebhookEvent};
use crate::config::WebhookConfig;

/// An event on its way to the batcher.
pub(super) struct Queued {
    pub(super) app: Arc<str>,
    pub(super) event: WebhookEvent,
    /// Whether it waits out the hold-back here.
    pub(super) hold: bool,
}

/// One app's events not yet in the store.
#[derive(Default)]
struct AppBatch {
    /// Events to send, oldest first, and when the batch is due.
    pending: Vec<WebhookEvent>,
    due: Option<Instant>,
    /// Held-back events and when each is released.
    held: Vec<(WebhookEvent, Instant)>,
}

/// Runs until `shutdown`, then writes everything it holds (held-back events
/// included) to the store, so that nothing is lost to a restart.
pub(super) async fn run(
    mut events: mpsc::Receiver<Queued>,
    configs: Arc<HashMap<Arc<str>, WebhookConfig>>,
    store: Store,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut apps: HashMap<Arc<str>, AppBatch> = HashMap::new();
    loop {
        let next = apps
            .values()
            .flat_map(|batch| batch.due.into_iter().chain(batch.held.iter().map(|h| h.1)))
            .min();
        tokio::select! {
            () = shutdown.cancelled() => break,
            queued = events.recv() => match queued {
                Some(queued) => {
                    let Some(config) = configs.get(&queued.app) else { continue };
                    let batch = apps.entry(queued.app).or_default();
                    add(batch, config, queued.event, queued.hold, Instant::now());
                }
                None => break,
            },
            () = sleep_until(next) => {}
        }
        let now = Instant::now();
        for (app, batch) in &mut apps {
            let config = &configs[app];
            release(batch, config, now);
            if batch.due.is_some_and(|due| due <= now) {
                flush(&store, app, config, batch).await;
                wake.notify_one();
            }
        }
        apps.retain(|_, batch| !batch.pending.is_empty() || !batch.held.is_empty());
    }
    // Shutdown: what is still queued, held or pending goes to the store now.
    while let Ok(queued) = events.try_recv() {
        if let Some(config) = configs.get(&queued.app) {
            add(
                apps.entry(queued.app).or_default(),
                config,
                queued.event,
                queued.hold,
                Instant::now(),
            );
        }
    }
    for (app, batch) in &mut apps {
        let config = &configs[app];
        for (event, _) in std::mem::take(&mut batch.held) {
            push_in_order(&mut batch.pending, event);
        }
        flush(&store, app, config, batch).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn add(
    batch: &mut AppBatch,
    config: &WebhookConfig,
    event: WebhookEvent,
    hold: bool,
    now: Instant,
) {
    if let Some(index) = batch.held.iter().position(|(held, _)| event.cancels(held)) {
        batch.held.remove(index);
        return;
    }
    if hold && !config.hold_back.is_zero() {
        batch.held.push((event, now + config.hold_back));
        return;
    }
    push_in_order(&mut batch.pending, event);
    batch.due.get_or_insert(now + config.batch_window);
}

/// Adds `event` to a batch so that, per channel, `channel_occupied` comes
/// before what happened in the channel and `channel_vacated` after the
/// members' removals. (A presence subscriber joins before it subscribes, and
/// unsubscribes before it leaves, so the core reports them the other way.)
fn push_in_order(pending: &mut Vec<WebhookEvent>, event: WebhookEvent) {
    let channel = event.channel().to_owned();
    let last_vacated = pending.iter().rposition(
        |held| matches!(held, WebhookEvent::ChannelVacated { channel: c } if *c == channel),
    );
    let position = match &event {
        WebhookEvent::ChannelOccupied { .. } => {
            let from = last_vacated.map_or(0, |index| index + 1);
            pending[from..]
                .iter()
                .position(|held| held.channel() == channel)
                .map(|offset| from + offset)
        }
        WebhookEvent::MemberRemoved { .. } => last_vacated.filter(|index| {
            pending[index + 1..]
                .iter()
                .all(|held| held.channel() != channel)
        }),
        _ => None,
    };
    match position {
        Some(index) => pending.insert(index, event),
        None => pending.push(event),
    }
}

/// Moves the held-back events whose time has come into the batch.
fn release(batch: &mut AppBatch, config: &WebhookConfig, now: Instant) {
    let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut batch.held)
        .into_iter()
        .partition(|(_, at)| *at <= now);
    batch.held = kept;
    if !released.is_empty() {
        for (event, _) in released {
            push_in_order(&mut batch.pending, event);
        }
        batch.due.get_or_insert(now + config.batch_window);
    }
}

/// Writes the batch to the queue, one delivery per receiver. A store that
/// fails keeps the events for the next flush.
async fn flush(store: &Store, app: &str, config: &WebhookConfig, batch: &mut AppBatch) {
    if batch.pending.is_empty() {
        batch.due = None;
        return;
    }
    let body = WebhookBody {
        time_ms: Timestamp::now().as_millis(),
        events: &batch.pending,
    }
    .to_json();
    let deliveries: Vec<NewWebhook> = config
        .urls
        .iter()
        .map(|url| NewWebhook {
            app_id: app.to_owned(),
            url: url.clone(),
            body: body.clone(),
        })
        .collect();
    match store.enqueue_webhooks(&deliveries).await {
        Ok(()) => {
            batch.pending.clear();
            batch.due = None;
        }
        Err(error) => {
            tracing::error!(%app, %error, "cannot queue webhooks; trying again");
            batch.due = Some(Instant::now() + std::time::Duration::from_secs(1));
        }
    }
}
