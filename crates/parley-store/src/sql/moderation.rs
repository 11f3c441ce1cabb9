//! Restrictions and block lists.

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::rows::channel_from_db;
use crate::{MessageId, Restriction, RestrictionKind, StoreError, Timestamp};

/// The columns [`restriction`] reads.
const RESTRICTION_COLUMNS: &str = "user_id, kind, channel, expires_at, created_by, created_at";

/// The stored form of a scope: the channel, or `''` for the whole app.
fn scope(channel: Option<&ChannelName>) -> &str {
    channel.map_or("", ChannelName::as_str)
}

fn restriction(row: &AnyRow) -> Result<Restriction, StoreError> {
    let channel: String = row.try_get("channel")?;
    Ok(Restriction {
        user: row.try_get("user_id")?,
        kind: row.try_get::<String, _>("kind")?.parse()?,
        channel: if channel.is_empty() {
            None
        } else {
            Some(channel_from_db(&channel)?)
        },
        expires_at: row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(Timestamp::from_millis),
        created_by: row.try_get("created_by")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn upsert_restriction(
    connection: &mut AnyConnection,
    app: &str,
    restriction: &Restriction,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO moderation_restrictions \
         (app_id, user_id, kind, channel, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (app_id, user_id, kind, channel) DO UPDATE SET \
         expires_at = excluded.expires_at, created_by = excluded.created_by, \
         created_at = excluded.created_at",
    )
    .bind(app)
    .bind(restriction.user.as_str())
    .bind(restriction.kind.as_str())
    .bind(scope(restriction.channel.as_ref()))
    .bind(restriction.expires_at.map(Timestamp::as_millis))
    .bind(restriction.created_by.as_str())
    .bind(restriction.created_at.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Deletes a restriction; returns whether one was in force at `now`.
pub(crate) async fn delete_restriction(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    kind: RestrictionKind,
    channel: Option<&ChannelName>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "DELETE FROM moderation_restrictions \
         WHERE app_id = $1 AND user_id = $2 AND kind = $3 AND channel = $4 \
         RETURNING expires_at",
    )
    .bind(app)
    .bind(user)
    .bind(kind.as_str())
    .bind(scope(channel))
    .fetch_optional(&mut *connection)
    .await?;
    Ok(match row {
        None => false,
        Some(row) => row
            .try_get::<Option<i64>, _>("expires_at")?
            .is_none_or(|expires_at| expires_at > now.as_millis()),
    })
}

pub(crate) async fn restrictions_of(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    channel: Option<&ChannelName>,
    now: Timestamp,
) -> Result<Vec<Restriction>, StoreError> {
    let sql = format!(
        "SELECT {RESTRICTION_COLUMNS} FROM moderation_restrictions \
         WHERE app_id = $1 AND user_id = $2 AND (channel = '' OR channel = $3) \
         AND (expires_at IS NULL OR expires_at > $4)"
    );
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(user)
        .bind(scope(channel))
        .bind(now.as_millis())
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(restriction).collect()
}

pub(crate) async fn restrictions(
    connection: &mut AnyConnection,
    app: &str,
    user: Option<&str>,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Restriction>, StoreError> {
    let sql = format!(
        "SELECT {RESTRICTION_COLUMNS} FROM moderation_restrictions \
         WHERE app_id = $1 AND ($2 = '' OR user_id = $2) \
         AND (expires_at IS NULL OR expires_at > $3) \
         ORDER BY created_at DESC, user_id LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(user.unwrap_or(""))
        .bind(now.as_millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(restriction).collect()
}

pub(crate) async fn block_count(
    connection: &mut AnyConnection,
    app: &str,
    blocker: &str,
) -> Result<usize, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM user_blocks WHERE app_id = $1 AND blocker = $2")
            .bind(app)
            .bind(blocker)
            .fetch_one(&mut *connection)
            .await?;
    Ok(usize::try_from(row.try_get::<i64, _>("n")?).unwrap_or(usize::MAX))
}

pub(crate) async fn insert_block(
    connection: &mut AnyConnection,
    app: &str,
    blocker: &str,
    blocked: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_blocks (app_id, blocker, blocked, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (app_id, blocker, blocked) DO NOTHING",
    )
    .bind(app)
    .bind(blocker)
    .bind(blocked)
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(crate) async fn delete_block(
    connection: &mut AnyConnection,
    app: &str,
    blocker: &str,
    blocked: &str,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("DELETE FROM user_blocks WHERE app_id = $1 AND blocker = $2 AND blocked = $3")
            .bind(app)
            .bind(blocker)
            .bind(blocked)
            .execute(&mut *connection)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn blocks(
    connection: &mut AnyConnection,
    app: &str,
    blocker: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT blocked FROM user_blocks WHERE app_id = $1 AND blocker = $2 ORDER BY blocked",
    )
    .bind(app)
    .bind(blocker)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(|row| Ok(row.try_get("blocked")?)).collect()
}

/// Sets whether a message is hidden.
pub(crate) async fn set_hidden(
    connection: &mut AnyConnection,
    id: MessageId,
    hidden: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET hidden = $1 WHERE id = $2")
        .bind(i64::from(hidden))
        .bind(id.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}
