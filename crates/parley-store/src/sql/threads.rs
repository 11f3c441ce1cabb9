//! Threads: the reply counters on a parent message, and thread pages.

use sqlx::AnyConnection;

use super::rows::{self, MESSAGE_COLUMNS, lines_to_db, offset_to_db};
use crate::{MAX_REPLIERS, Message, StoreError};

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
