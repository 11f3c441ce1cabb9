//! The deliverer: claims due webhook deliveries from the store's queue,
//! POSTs them signed, removes the delivered ones, and reschedules failures
//! with exponential backoff until `retry_for` has passed.
//!
//! Every node sharing a store runs one, and each delivery is claimed by
//! one of them before it is sent, for as long as the send can take
//! (the longest `timeout` of the apps, and a margin for the removal): a
//! node that dies mid-send holds the delivery no longer than that.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use parley_store::{Store, Timestamp, WebhookDelivery};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::WebhookConfig;
use crate::pusher::sign::hmac_hex;

/// Receivers served at once: each gets its oldest due delivery per round.
const RECEIVERS: usize = 32;
/// What a claim covers beyond the send itself: the removal or reschedule.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// The longest sleep between two looks at the queue, so deliveries queued
/// by another node (on a shared PostgreSQL store) are found too.
const POLL: Duration = Duration::from_secs(2);
/// The wait before the first retry; it doubles with each failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// How to sign and send one app's webhooks.
pub(super) struct Receiver {
    pub(super) key: String,
    pub(super) secret: String,
    pub(super) config: WebhookConfig,
}

/// Runs until `shutdown`. Rows not delivered stay queued for the next start.
pub(super) async fn run(
    store: Store,
    apps: Arc<HashMap<Arc<str>, Receiver>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder().build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client");
            return;
        }
    };
    let lease = apps
        .values()
        .map(|app| app.config.timeout)
        .max()
        .unwrap_or_default()
        + CLAIM_MARGIN;
    if let Err(error) = store.retry_webhooks_now().await {
        tracing::warn!(%error, "cannot read the webhook queue");
    }
    loop {
        let claimed = match store
            .claim_webhooks(Timestamp::now(), RECEIVERS, lease)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot read the webhook queue");
                Vec::new()
            }
        };
        if !claimed.is_empty() {
            // One delivery per receiver, the receivers served concurrently;
            // a receiver's next delivery is claimed in the next round.
            let sends = claimed
                .into_iter()
                .map(|delivery| attempt(&client, &store, &apps, delivery));
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = join_all(sends) => {}
            }
            continue;
        }
        let wait = match store.next_webhook_due().await {
            Ok(Some(next)) => {
                let millis = next.as_millis() - Timestamp::now().as_millis();
                Duration::from_millis(u64::try_from(millis).unwrap_or(0)).min(POLL)
            }
            _ => POLL,
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One attempt at one delivery, and what it leaves in the queue.
async fn attempt(
    client: &reqwest::Client,
    store: &Store,
    apps: &HashMap<Arc<str>, Receiver>,
    delivery: WebhookDelivery,
) {
    let Some(app) = apps.get(delivery.app_id.as_str()) else {
        tracing::warn!(app = %delivery.app_id, "dropping a webhook of an app no longer configured");
        remove(store, delivery.id).await;
        return;
    };
    let signature = hmac_hex(&app.secret, &delivery.body);
    let sent = client
        .post(&delivery.url)
        .timeout(app.config.timeout)
        .header("Content-Type", "application/json")
        .header("X-Pusher-Key", &app.key)
        .header("X-Pusher-Signature", signature)
        .body(delivery.body.clone())
        .send()
        .await;
    let failure = match sent {
        Ok(response) if response.status().is_success() => {
            remove(store, delivery.id).await;
            return;
        }
        Ok(response) => format!("status {}", response.status()),
        Err(error) => error.to_string(),
    };
    let attempts = delivery.attempts.saturating_add(1);
    let now = Timestamp::now();
    let age = Duration::from_millis(
        u64::try_from(now.as_millis() - delivery.created_at.as_millis()).unwrap_or(0),
    );
    if age >= app.config.retry_for {
        tracing::error!(
            app = %delivery.app_id,
            url = %delivery.url,
            attempts,
            %failure,
            "webhook given up after its retry period"
        );
        remove(store, delivery.id).await;
        return;
    }
    let backoff = FIRST_BACKOFF
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(app.config.max_backoff);
    tracing::warn!(
        app = %delivery.app_id,
        url = %delivery.url,
        attempts,
        %failure,
        retry_in = ?backoff,
        "webhook delivery failed"
    );
    let next = Timestamp::from_millis(
        now.as_millis() + i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX),
    );
    if let Err(error) = store.reschedule_webhook(delivery.id, attempts, next).await {
        tracing::warn!(%error, "cannot reschedule a webhook");
    }
}

async fn remove(store: &Store, id: i64) {
    if let Err(error) = store.remove_webhook(id).await {
        tracing::warn!(%error, "cannot remove a delivered webhook");
    }
}
