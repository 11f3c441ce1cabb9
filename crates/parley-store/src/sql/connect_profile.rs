//! The one statement behind [`Store::connect_profile`](crate::Store).

use sqlx::{AnyConnection, Row};

use crate::{ConnectProfile, StoreError, Timestamp};

/// One row per part of the profile: `ban` (the count of app-wide bans in
/// force), `unread` (the sum of the unread counts, negative ones counted as
/// zero like [`UnreadCount`](crate::UnreadCount) does, over the same first
/// channels that `Store::unread` lists) and one `block` row per blocked
/// user. `CAST` keeps PostgreSQL's `SUM` of `BIGINT` (a `NUMERIC`) an
/// integer that `sqlx::Any` can carry.
const PROFILE: &str = "\
    SELECT 'ban' AS part, '' AS blocked, COUNT(*) AS n FROM moderation_restrictions \
     WHERE app_id = $1 AND user_id = $2 AND kind = 'ban' AND channel = '' \
     AND (expires_at IS NULL OR expires_at > $3) \
    UNION ALL \
    SELECT 'unread', '', CAST(COALESCE(SUM(CASE WHEN unread > 0 THEN unread ELSE 0 END), 0) \
     AS BIGINT) FROM (SELECT COALESCE(s.message_count, 0) - r.seen_count AS unread \
      FROM read_markers r LEFT JOIN streams s ON s.app_id = r.app_id AND s.channel = r.channel \
      WHERE r.app_id = $1 AND r.user_id = $2 ORDER BY r.channel LIMIT $4) AS counts \
    UNION ALL \
    SELECT 'block', blocked, 0 FROM user_blocks WHERE app_id = $1 AND blocker = $2";

pub(crate) async fn connect_profile(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    now: Timestamp,
    unread_channels: usize,
) -> Result<ConnectProfile, StoreError> {
    let rows = sqlx::query(PROFILE)
        .bind(app)
        .bind(user)
        .bind(now.as_millis())
        .bind(i64::try_from(unread_channels).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    let mut profile = ConnectProfile::default();
    for row in &rows {
        match row.try_get::<String, _>("part")?.as_str() {
            "ban" => profile.banned = row.try_get::<i64, _>("n")? > 0,
            "unread" => profile.unread = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            "block" => profile.blocks.push(row.try_get("blocked")?),
            other => {
                return Err(StoreError::corrupt(format!(
                    "unknown connect profile part {other:?}"
                )));
            }
        }
    }
    Ok(profile)
}
