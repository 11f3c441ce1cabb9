//! Pins, thread counters and thread pages.

use parley_core::ChannelName;
use sqlx::{AnyConnection, Row};

use super::rows::{self, MESSAGE_COLUMNS, lines_to_db, offset_to_db};
use crate::{MAX_REPLIERS, Message, MessageId, Pin, StoreError, Timestamp};

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

/// Counts a reply on its parent: one more reply, and `replier` first among
/// the latest repliers. Returns the parent as it is now.
pub(crate) async fn count_reply(
    connection: &mut AnyConnection,
    mut parent: Message,
    replier: &str,
) -> Result<Message, StoreError> {
    parent.reply_count += 1;
    parent.repliers.retain(|user| user != replier);
    parent.repliers.insert(0, replier.to_owned());
    parent.repliers.truncate(MAX_REPLIERS);
    sqlx::query("UPDATE messages SET reply_count = $1, repliers = $2 WHERE id = $3")
        .bind(offset_to_db(parent.reply_count))
        .bind(lines_to_db(&parent.repliers))
        .bind(parent.id.get())
        .execute(&mut *connection)
        .await?;
    Ok(parent)
}

/// Replies to `parent` below `before_offset`, newest first, at most `limit`.
pub(crate) async fn replies(
    connection: &mut AnyConnection,
    app: &str,
    parent: &Message,
    before_offset: u64,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE app_id = $1 AND reply_to = $2 AND stream_offset < $3 \
         ORDER BY stream_offset DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(parent.id.get())
        .bind(offset_to_db(before_offset))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter()
        .map(|row| rows::message(row, Some(&parent.channel)))
        .collect()
}
