//! The webhook delivery queue's SQL, one set for both backends.

use sqlx::{AnyConnection, Row};

use crate::webhooks::{NewWebhook, WebhookDelivery};
use crate::{StoreError, Timestamp};

/// Appends deliveries to the queue, due at once.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    delivery: &NewWebhook,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries \
         (app_id, url, body, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5)",
    )
    .bind(delivery.app_id.as_str())
    .bind(delivery.url.as_str())
    .bind(delivery.body.as_str())
    .bind(now.as_millis())
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The deliveries due at `now`, oldest first, at most `limit`.
pub(crate) async fn due(
    connection: &mut AnyConnection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, app_id, url, body, attempts, created_at FROM webhook_deliveries \
         WHERE next_attempt_at <= $1 ORDER BY id LIMIT $2",
    )
    .bind(now.as_millis())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(WebhookDelivery {
                id: row.try_get("id")?,
                app_id: row.try_get("app_id")?,
                url: row.try_get("url")?,
                body: row.try_get("body")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
            })
        })
        .collect()
}

/// The time of the earliest delivery still queued, if any.
pub(crate) async fn next_due(
    connection: &mut AnyConnection,
) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query("SELECT MIN(next_attempt_at) AS next FROM webhook_deliveries")
        .fetch_one(&mut *connection)
        .await?;
    Ok(row
        .try_get::<Option<i64>, _>("next")?
        .map(Timestamp::from_millis))
}

/// Removes a delivery: it was delivered or given up.
pub(crate) async fn remove(connection: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub(crate) async fn reschedule(
    connection: &mut AnyConnection,
    id: i64,
    attempts: u32,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2 WHERE id = $3")
        .bind(i64::from(attempts))
        .bind(next_attempt_at.as_millis())
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Makes every queued delivery due at `now`.
pub(crate) async fn all_due(
    connection: &mut AnyConnection,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE next_attempt_at > $1")
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// How many deliveries of `app` are queued.
pub(crate) async fn pending(connection: &mut AnyConnection, app: &str) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS pending FROM webhook_deliveries WHERE app_id = $1")
        .bind(app)
        .fetch_one(&mut *connection)
        .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("pending")?).unwrap_or(0))
}
