//! The durable queue of webhook deliveries.
//!
//! The server writes each batch of webhook events here (one row per
//! receiver URL) before it tries to deliver it, and removes the row once
//! the receiver accepted it or the delivery was given up. A delivery that
//! failed is rescheduled with its attempt count, so retries go on across
//! restarts. A node claims a delivery for a while before sending it, so
//! nodes sharing one store send each delivery once; a node that dies
//! mid-send leaves the claim to expire, and another node sends it then.
//! Delivery is at least once: a process that stops between a receiver's
//! answer and the removal sends that batch again.
//!
//! These calls go straight to the pool, not through the writer: a queued
//! webhook orders nothing against channel streams.

use std::time::Duration;

use crate::sql::webhooks as sql;
use crate::{Store, StoreError, Timestamp};

/// A webhook delivery to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// The app whose events the body carries.
    pub app_id: String,
    /// The receiver.
    pub url: String,
    /// The request body, exactly as it is signed and sent.
    pub body: String,
}

/// A queued webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The row's id.
    pub id: i64,
    /// The app whose events the body carries.
    pub app_id: String,
    /// The receiver.
    pub url: String,
    /// The request body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the delivery was queued.
    pub created_at: Timestamp,
}

impl Store {
    /// Queues deliveries, due at once, in one transaction.
    pub async fn enqueue_webhooks(&self, deliveries: &[NewWebhook]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut transaction = self.pool().begin().await?;
        for delivery in deliveries {
            sql::insert(&mut transaction, delivery, now).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Makes every queued delivery due now: a starting server tries what
    /// an earlier run left at once, in the order it was queued.
    pub async fn retry_webhooks_now(&self) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::all_due(&mut connection, Timestamp::now()).await
    }

    /// Claims for `lease` the oldest due delivery of each receiver that has
    /// none claimed (at most `receivers` of them) and returns them, oldest
    /// first. A claimed delivery is claimed by no one else until it is
    /// removed, rescheduled, or `lease` has passed; a receiver's next
    /// delivery waits for its claimed one, so each receiver gets its
    /// deliveries in queue order, one at a time, whichever nodes send them.
    pub async fn claim_webhooks(
        &self,
        now: Timestamp,
        receivers: usize,
        lease: Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let until = Timestamp::from_millis(
            now.as_millis()
                .saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)),
        );
        let mut connection = self.pool().acquire().await?;
        sql::claim(&mut connection, now, until, receivers).await
    }

    /// When a delivery can next be claimed (it is due and its receiver has
    /// no claimed one), if any is queued.
    pub async fn next_webhook_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::next_due(&mut connection).await
    }

    /// Removes a delivery that was delivered or given up.
    pub async fn remove_webhook(&self, id: i64) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::remove(&mut connection, id).await
    }

    /// Records a failed attempt (`attempts` in all) and the time of the
    /// next, and lets the claim go.
    pub async fn reschedule_webhook(
        &self,
        id: i64,
        attempts: u32,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::reschedule(&mut connection, id, attempts, next_attempt_at).await
    }

    /// How many deliveries of `app` are queued.
    pub async fn pending_webhooks(&self, app: &str) -> Result<u64, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::pending(&mut connection, app).await
    }
}
