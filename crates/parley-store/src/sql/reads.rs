//! Message counts, read markers and mentions.

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::rows::{channel_from_db, offset_from_db, offset_to_db};
use crate::{MessageId, StoreError, Timestamp, UnreadCount};

/// How many messages the channel has had.
pub(crate) async fn message_count(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<u64, StoreError> {
    super::counted();
    let row = sqlx::query(
        "SELECT COALESCE(MAX(message_count), 0) AS message_count FROM streams \
         WHERE app_id = $1 AND channel = $2",
    )
    .bind(app)
    .bind(channel.as_str())
    .fetch_one(&mut *connection)
    .await?;
    offset_from_db(row.try_get("message_count")?)
}

/// A stored marker: the count seen and the last read offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) seen: u64,
    pub(crate) last_read_offset: u64,
}

/// A user's marker in a channel, if they have one.
pub(crate) async fn marker(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<Marker>, StoreError> {
    super::counted();
    let row = sqlx::query(
        "SELECT seen_count, last_read_offset FROM read_markers \
         WHERE app_id = $1 AND channel = $2 AND user_id = $3",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(user)
    .fetch_optional(&mut *connection)
    .await?;
    row.map(|row| {
        Ok(Marker {
            seen: offset_from_db(row.try_get("seen_count")?)?,
            last_read_offset: offset_from_db(row.try_get("last_read_offset")?)?,
        })
    })
    .transpose()
}

/// Sets a user's marker, creating it if missing.
pub(crate) async fn set_marker(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
    marker: Marker,
    now: Timestamp,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query(
        "INSERT INTO read_markers \
         (app_id, channel, user_id, seen_count, last_read_offset, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (app_id, channel, user_id) DO UPDATE \
         SET seen_count = $4, last_read_offset = $5, updated_at = $6",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(user)
    .bind(offset_to_db(marker.seen))
    .bind(offset_to_db(marker.last_read_offset))
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// A user's marker in a channel, to set with [`set_markers`].
pub(crate) struct MarkerRow<'a> {
    pub(crate) app: &'a str,
    pub(crate) channel: &'a ChannelName,
    pub(crate) user: &'a str,
    pub(crate) marker: Marker,
}

/// [`set_marker`] for many users and channels, in one statement per chunk.
/// A marker must appear once: PostgreSQL refuses to update one row twice
/// in one statement.
pub(crate) async fn set_markers(
    connection: &mut AnyConnection,
    markers: &[MarkerRow<'_>],
    now: Timestamp,
) -> Result<(), StoreError> {
    for chunk in super::chunks(markers.len()) {
        let markers = &markers[chunk];
        let sql = format!(
            "INSERT INTO read_markers \
             (app_id, channel, user_id, seen_count, last_read_offset, updated_at) \
             VALUES {} \
             ON CONFLICT (app_id, channel, user_id) DO UPDATE \
             SET seen_count = excluded.seen_count, \
             last_read_offset = excluded.last_read_offset, updated_at = excluded.updated_at",
            super::Placeholders::of(connection).values(markers.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for row in markers {
            query = query
                .bind(row.app)
                .bind(row.channel.as_str())
                .bind(row.user)
                .bind(offset_to_db(row.marker.seen))
                .bind(offset_to_db(row.marker.last_read_offset))
                .bind(now.as_millis());
        }
        super::counted();
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// A user a message mentions, to record with [`add_mentions_many`].
pub(crate) struct MentionRow<'a> {
    pub(crate) app: &'a str,
    pub(crate) channel: &'a ChannelName,
    pub(crate) user: &'a str,
    pub(crate) message: MessageId,
    pub(crate) seq: u64,
}

/// [`add_mentions`] for the mentions of many messages, in one statement
/// per chunk.
pub(crate) async fn add_mentions_many(
    connection: &mut AnyConnection,
    mentions: &[MentionRow<'_>],
) -> Result<(), StoreError> {
    for chunk in super::chunks(mentions.len()) {
        let mentions = &mentions[chunk];
        let sql = format!(
            "INSERT INTO mentions (app_id, channel, user_id, message_id, seq) \
             VALUES {} ON CONFLICT DO NOTHING",
            super::Placeholders::of(connection).values(mentions.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for row in mentions {
            query = query
                .bind(row.app)
                .bind(row.channel.as_str())
                .bind(row.user)
                .bind(row.message.get())
                .bind(offset_to_db(row.seq));
        }
        super::counted();
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Removes a user's marker (they left the room).
pub(crate) async fn remove_marker(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query("DELETE FROM read_markers WHERE app_id = $1 AND channel = $2 AND user_id = $3")
        .bind(app)
        .bind(channel.as_str())
        .bind(user)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Records that a message mentions these users.
pub(crate) async fn add_mentions(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    message: MessageId,
    seq: u64,
    users: &[String],
) -> Result<(), StoreError> {
    for user in users {
        super::counted();
        sqlx::query(
            "INSERT INTO mentions (app_id, channel, user_id, message_id, seq) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(app)
        .bind(channel.as_str())
        .bind(user.as_str())
        .bind(message.get())
        .bind(offset_to_db(seq))
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

const UNREAD_SELECT: &str = "SELECT r.channel, r.last_read_offset, \
     COALESCE(s.message_count, 0) - r.seen_count AS unread, \
     (SELECT COUNT(*) FROM mentions n WHERE n.app_id = r.app_id AND n.channel = r.channel \
      AND n.user_id = r.user_id AND n.seq > r.seen_count \
      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = n.message_id AND (m.hidden <> 0 \
       OR m.author IN (SELECT b.blocked FROM user_blocks b \
        WHERE b.app_id = n.app_id AND b.blocker = n.user_id)))) AS mentions \
     FROM read_markers r LEFT JOIN streams s ON s.app_id = r.app_id AND s.channel = r.channel";

fn unread_count(row: &AnyRow) -> Result<UnreadCount, StoreError> {
    Ok(UnreadCount {
        channel: channel_from_db(&row.try_get::<String, _>("channel")?)?,
        unread: u64::try_from(row.try_get::<i64, _>("unread")?).unwrap_or(0),
        mentions: u64::try_from(row.try_get::<i64, _>("mentions")?).unwrap_or(0),
        last_read_offset: offset_from_db(row.try_get("last_read_offset")?)?,
    })
}

/// A user's unread counts in every channel where they have a marker (their
/// rooms, and channels they sent to or marked read), at most `limit`.
pub(crate) async fn unread_of_user(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    limit: usize,
) -> Result<Vec<UnreadCount>, StoreError> {
    let sql = format!(
        "{UNREAD_SELECT} WHERE r.app_id = $1 AND r.user_id = $2 ORDER BY r.channel LIMIT $3"
    );
    super::counted();
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(user)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(unread_count).collect()
}

/// A user's unread count in one channel: everything when they have no
/// marker.
pub(crate) async fn unread_in(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<UnreadCount>, StoreError> {
    let sql = format!("{UNREAD_SELECT} WHERE r.app_id = $1 AND r.channel = $2 AND r.user_id = $3");
    super::counted();
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(user)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(unread_count).transpose()
}
