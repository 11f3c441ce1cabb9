//! Reactions to messages and to channels, and their counts.

use std::collections::HashMap;

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{MessageId, ReactionCount, ReactionTarget, StoreError, Timestamp};

/// Adds a user's reaction; returns whether it is new (adding it again
/// changes nothing).
pub(crate) async fn add(
    connection: &mut AnyConnection,
    app: &str,
    target: &ReactionTarget,
    user: &str,
    emoji: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = match target {
        ReactionTarget::Message(id) => {
            super::counted();
            sqlx::query(
                "INSERT INTO message_reactions (message_id, user_id, emoji, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id.get())
            .bind(user)
            .bind(emoji)
            .bind(now.as_millis())
            .execute(&mut *connection)
            .await?
        }
        ReactionTarget::Channel(channel) => {
            super::counted();
            sqlx::query(
                "INSERT INTO channel_reactions (app_id, channel, user_id, emoji, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(channel.as_str())
            .bind(user)
            .bind(emoji)
            .bind(now.as_millis())
            .execute(&mut *connection)
            .await?
        }
    };
    Ok(done.rows_affected() > 0)
}

/// Removes a user's reaction; returns whether there was one.
pub(crate) async fn remove(
    connection: &mut AnyConnection,
    app: &str,
    target: &ReactionTarget,
    user: &str,
    emoji: &str,
) -> Result<bool, StoreError> {
    let done = match target {
        ReactionTarget::Message(id) => {
            super::counted();
            sqlx::query(
                "DELETE FROM message_reactions \
                 WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
            )
            .bind(id.get())
            .bind(user)
            .bind(emoji)
            .execute(&mut *connection)
            .await?
        }
        ReactionTarget::Channel(channel) => {
            super::counted();
            sqlx::query(
                "DELETE FROM channel_reactions \
                 WHERE app_id = $1 AND channel = $2 AND user_id = $3 AND emoji = $4",
            )
            .bind(app)
            .bind(channel.as_str())
            .bind(user)
            .bind(emoji)
            .execute(&mut *connection)
            .await?
        }
    };
    Ok(done.rows_affected() > 0)
}

/// How many users react to the target with `emoji`.
pub(crate) async fn count(
    connection: &mut AnyConnection,
    app: &str,
    target: &ReactionTarget,
    emoji: &str,
) -> Result<u64, StoreError> {
    let row = match target {
        ReactionTarget::Message(id) => {
            super::counted();
            sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM message_reactions \
                 WHERE message_id = $1 AND emoji = $2",
            )
            .bind(id.get())
            .bind(emoji)
            .fetch_one(&mut *connection)
            .await?
        }
        ReactionTarget::Channel(channel) => {
            super::counted();
            sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM channel_reactions \
                 WHERE app_id = $1 AND channel = $2 AND emoji = $3",
            )
            .bind(app)
            .bind(channel.as_str())
            .bind(emoji)
            .fetch_one(&mut *connection)
            .await?
        }
    };
    count_from_db(row.try_get("n")?)
}

/// Removes every reaction to a message (deleting a message deletes them).
pub(crate) async fn clear(
    connection: &mut AnyConnection,
    message: MessageId,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query("DELETE FROM message_reactions WHERE message_id = $1")
        .bind(message.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The counts per emoji of each of `messages`, relative to `reader`, in
/// the order the emojis were first used.
pub(crate) async fn message_counts(
    connection: &mut AnyConnection,
    messages: &[MessageId],
    reader: Option<&str>,
) -> Result<HashMap<MessageId, Vec<ReactionCount>>, StoreError> {
    let mut counts: HashMap<MessageId, Vec<ReactionCount>> = HashMap::new();
    if messages.is_empty() {
        return Ok(counts);
    }
    // Message ids are integers, so they are written into the statement
    // rather than bound one placeholder each.
    let ids: Vec<String> = messages.iter().map(|id| id.get().to_string()).collect();
    let sql = format!(
        "SELECT message_id, emoji, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(MAX(CASE WHEN user_id = $1 THEN 1 ELSE 0 END) AS BIGINT) AS mine \
         FROM message_reactions WHERE message_id IN ({}) \
         GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji",
        ids.join(",")
    );
    super::counted();
    let rows = sqlx::query(&sql)
        .bind(reader)
        .fetch_all(&mut *connection)
        .await?;
    for row in &rows {
        counts
            .entry(MessageId::new(row.try_get("message_id")?))
            .or_default()
            .push(reaction_count(row)?);
    }
    Ok(counts)
}

/// The counts per emoji of reactions to a channel, relative to `reader`,
/// in the order the emojis were first used.
pub(crate) async fn channel_counts(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    reader: Option<&str>,
) -> Result<Vec<ReactionCount>, StoreError> {
    super::counted();
    let rows = sqlx::query(
        "SELECT emoji, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(MAX(CASE WHEN user_id = $3 THEN 1 ELSE 0 END) AS BIGINT) AS mine \
         FROM channel_reactions WHERE app_id = $1 AND channel = $2 \
         GROUP BY emoji ORDER BY MIN(created_at), emoji",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(reader)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(reaction_count).collect()
}

fn reaction_count(row: &AnyRow) -> Result<ReactionCount, StoreError> {
    Ok(ReactionCount {
        emoji: row.try_get("emoji")?,
        count: count_from_db(row.try_get("n")?)?,
        me: row.try_get::<i64, _>("mine")? != 0,
    })
}

fn count_from_db(count: i64) -> Result<u64, StoreError> {
    u64::try_from(count).map_err(|_| StoreError::corrupt(format!("negative count {count}")))
}
