//! The pins projection: the `pins` table, one row per pinned message.

use parley_core::ChannelName;
use sqlx::{AnyConnection, Row};

use super::rows::{self, MESSAGE_COLUMNS};
use crate::{MessageId, Pin, StoreError, Timestamp};

/// Pins a message; returns false when it was pinned already.
pub(crate) async fn pin(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    message: MessageId,
    by: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let added = sqlx::query(
        "INSERT INTO pins (app_id, channel, message_id, pinned_by, pinned_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, channel, message_id) DO NOTHING",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(message.get())
    .bind(by)
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(added > 0)
}

/// Unpins a message; returns false when it was not pinned.
pub(crate) async fn unpin(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    message: MessageId,
) -> Result<bool, StoreError> {
    let removed =
        sqlx::query("DELETE FROM pins WHERE app_id = $1 AND channel = $2 AND message_id = $3")
            .bind(app)
            .bind(channel.as_str())
            .bind(message.get())
            .execute(&mut *connection)
            .await?
            .rows_affected();
    Ok(removed > 0)
}

/// The pinned messages of a channel that are not deleted, most recently
/// pinned first.
pub(crate) async fn pins(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    limit: usize,
) -> Result<Vec<Pin>, StoreError> {
    let columns = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("m.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, p.pinned_by, p.pinned_at FROM pins p \
         JOIN messages m ON m.id = p.message_id \
         WHERE p.app_id = $1 AND p.channel = $2 AND m.deleted_at IS NULL \
         ORDER BY p.pinned_at DESC, p.message_id DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Pin {
                message: rows::message(row, Some(channel))?,
                by: row.try_get("pinned_by")?,
                at: Timestamp::from_millis(row.try_get("pinned_at")?),
                pinned: true,
            })
        })
        .collect()
}
