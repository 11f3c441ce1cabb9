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

/// Claims, until `until`, the oldest due delivery of each receiver that has
/// none claimed, for at most `receivers` receivers, and returns them in
/// queue order.
///
/// One statement, so two nodes cannot claim one row: on PostgreSQL the
/// second `UPDATE` to reach a row waits for the first to commit and then
/// finds `claimed_until` in the future; SQLite runs one writer at a time.
/// A receiver with a claimed delivery gets no other until that one is
/// sent, rescheduled or its claim expires, so each receiver is sent its
/// deliveries one at a time, in the order they were queued.
pub(crate) async fn claim(
    connection: &mut AnyConnection,
    now: Timestamp,
    until: Timestamp,
    receivers: usize,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let rows = sqlx::query(
        "UPDATE webhook_deliveries SET claimed_until = $2 \
         WHERE claimed_until <= $1 AND id IN (\
          SELECT MIN(id) FROM webhook_deliveries WHERE next_attempt_at <= $1 \
          GROUP BY url HAVING MAX(claimed_until) <= $1 ORDER BY MIN(id) LIMIT $3) \
         RETURNING id, app_id, url, body, attempts, created_at",
    )
    .bind(now.as_millis())
    .bind(until.as_millis())
    .bind(i64::try_from(receivers).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    let mut claimed = rows
        .iter()
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
        .collect::<Result<Vec<_>, StoreError>>()?;
    claimed.sort_by_key(|delivery| delivery.id);
    Ok(claimed)
}

/// When a delivery can next be claimed: for each receiver, the later of its
/// earliest due time and the end of its claim, the earliest of those.
pub(crate) async fn next_due(
    connection: &mut AnyConnection,
) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query(
        "SELECT MIN(CASE WHEN claimed > due THEN claimed ELSE due END) AS next FROM (\
          SELECT MAX(claimed_until) AS claimed, MIN(next_attempt_at) AS due \
          FROM webhook_deliveries GROUP BY url) AS receivers",
    )
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

/// Records a failed attempt and when to try again, and lets the claim go.
pub(crate) async fn reschedule(
    connection: &mut AnyConnection,
    id: i64,
    attempts: u32,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, claimed_until = 0 \
         WHERE id = $3",
    )
    .bind(i64::from(attempts))
    .bind(next_attempt_at.as_millis())
    .bind(id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Makes every queued delivery due at `now`. Claims stay: a delivery
/// another node is sending is not sent twice.
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
