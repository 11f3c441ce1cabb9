//! The one statement behind [`Store::connect_profile`](crate::Store).

use sqlx::{AnyConnection, Row};

use super::rows::channel_from_db;
use crate::{ConnectProfile, RestrictionInForce, StoreError, Timestamp};

/// One row per part of the profile: `restriction` (one per mute or ban in
/// force, its kind in `kind`, its channel in `blocked`, `''` for the whole
/// app, its end in `n`, -1 for none; one more than the limit at most),
/// `unread` (the sum of the unread counts, negative ones counted as
/// zero like [`UnreadCount`](crate::UnreadCount) does, over the same first
/// channels that `Store::unread` lists) and one `block` row per blocked
/// user. `CAST` keeps PostgreSQL's `SUM` of `BIGINT` (a `NUMERIC`) an
/// integer that `sqlx::Any` can carry.
const PROFILE: &str = "\
    SELECT 'restriction' AS part, kind, blocked, n FROM (\
     SELECT kind, channel AS blocked, COALESCE(expires_at, -1) AS n FROM moderation_restrictions \
     WHERE app_id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3) \
     LIMIT $5) AS restrictions \
    UNION ALL \
    SELECT 'unread', '', '', CAST(COALESCE(SUM(CASE WHEN unread > 0 THEN unread ELSE 0 END), 0) \
     AS BIGINT) FROM (SELECT COALESCE(s.message_count, 0) - r.seen_count AS unread \
      FROM read_markers r LEFT JOIN streams s ON s.app_id = r.app_id AND s.channel = r.channel \
      WHERE r.app_id = $1 AND r.user_id = $2 ORDER BY r.channel LIMIT $4) AS counts \
    UNION ALL \
    SELECT 'block', '', blocked, 0 FROM user_blocks WHERE app_id = $1 AND blocker = $2";

pub(crate) async fn connect_profile(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    now: Timestamp,
    unread_channels: usize,
    max_restrictions: usize,
) -> Result<ConnectProfile, StoreError> {
    let rows = sqlx::query(PROFILE)
        .bind(app)
        .bind(user)
        .bind(now.as_millis())
        .bind(i64::try_from(unread_channels).unwrap_or(i64::MAX))
        .bind(i64::try_from(max_restrictions.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    let mut profile = ConnectProfile::default();
    let mut restrictions = Vec::new();
    for row in &rows {
        match row.try_get::<String, _>("part")?.as_str() {
            "restriction" => {
                let channel: String = row.try_get("blocked")?;
                let end: i64 = row.try_get("n")?;
                restrictions.push(RestrictionInForce {
                    kind: row.try_get::<String, _>("kind")?.parse()?,
                    channel: if channel.is_empty() {
                        None
                    } else {
                        Some(channel_from_db(&channel)?)
                    },
                    expires_at: (end >= 0).then(|| Timestamp::from_millis(end)),
                });
            }
            "unread" => profile.unread = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            "block" => profile.blocks.push(row.try_get("blocked")?),
            other => {
                return Err(StoreError::corrupt(format!(
                    "unknown connect profile part {other:?}"
                )));
            }
        }
    }
    profile.banned = restrictions.iter().any(|restriction| {
        restriction.kind == crate::RestrictionKind::Ban && restriction.channel.is_none()
    });
    profile.restrictions = (restrictions.len() <= max_restrictions).then_some(restrictions);
    Ok(profile)
}
