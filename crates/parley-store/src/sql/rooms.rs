//! Rooms and their members.

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::rows::{self, MESSAGE_COLUMNS, channel_from_db};
use crate::{Message, Room, RoomMember, RoomRole, StoreError, Timestamp};

const ROOM_COLUMNS: &str = "channel, kind, created_by, created_at, last_activity";

fn room(row: &AnyRow) -> Result<Room, StoreError> {
    Ok(Room {
        channel: channel_from_db(&row.try_get::<String, _>("channel")?)?,
        kind: row
            .try_get::<String, _>("kind")?
            .parse()
            .map_err(|_| StoreError::corrupt("unknown room kind"))?,
        created_by: row.try_get("created_by")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_activity: Timestamp::from_millis(row.try_get("last_activity")?),
    })
}

fn member(row: &AnyRow) -> Result<RoomMember, StoreError> {
    Ok(RoomMember {
        user: row.try_get("user_id")?,
        role: row
            .try_get::<String, _>("role")?
            .parse()
            .map_err(|_| StoreError::corrupt("unknown room role"))?,
        joined_at: Timestamp::from_millis(row.try_get("joined_at")?),
    })
}

/// The room on this channel, if the channel is one.
pub(crate) async fn find(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<Option<Room>, StoreError> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE app_id = $1 AND channel = $2");
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(room).transpose()
}

/// The direct room with this pair key, if the pair has one.
pub(crate) async fn find_direct(
    connection: &mut AnyConnection,
    app: &str,
    direct_key: &str,
) -> Result<Option<Room>, StoreError> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE app_id = $1 AND direct_key = $2");
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(direct_key)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(room).transpose()
}

/// Inserts a room.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    app: &str,
    room: &Room,
    direct_key: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rooms (app_id, channel, kind, direct_key, created_by, created_at, \
         last_activity) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(app)
    .bind(room.channel.as_str())
    .bind(room.kind.as_str())
    .bind(direct_key)
    .bind(room.created_by.as_str())
    .bind(room.created_at.as_millis())
    .bind(room.last_activity.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Marks a message sent in the channel, if it is a room: rooms are listed
/// by their latest activity.
pub(crate) async fn touch(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE rooms SET last_activity = $1 WHERE app_id = $2 AND channel = $3")
        .bind(now.as_millis())
        .bind(app)
        .bind(channel.as_str())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Adds a member unless they are one already; returns whether they were
/// added.
pub(crate) async fn add_member(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    member: &RoomMember,
) -> Result<bool, StoreError> {
    let added = sqlx::query(
        "INSERT INTO room_members (app_id, channel, user_id, role, joined_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, channel, user_id) DO NOTHING",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(member.user.as_str())
    .bind(member.role.as_str())
    .bind(member.joined_at.as_millis())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(added > 0)
}

/// Removes a member and returns them, if they were one.
pub(crate) async fn remove_member(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<RoomMember>, StoreError> {
    let row = sqlx::query(
        "DELETE FROM room_members WHERE app_id = $1 AND channel = $2 AND user_id = $3 \
         RETURNING user_id, role, joined_at",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(user)
    .fetch_optional(&mut *connection)
    .await?;
    row.as_ref().map(member).transpose()
}

/// A user's role in a room, if they are a member.
pub(crate) async fn role(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<RoomRole>, StoreError> {
    let row = sqlx::query(
        "SELECT role FROM room_members WHERE app_id = $1 AND channel = $2 AND user_id = $3",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(user)
    .fetch_optional(&mut *connection)
    .await?;
    row.map(|row| {
        row.try_get::<String, _>("role")?
            .parse()
            .map_err(|_| StoreError::corrupt("unknown room role"))
    })
    .transpose()
}

/// A room's members, in the order they joined, at most `limit`.
pub(crate) async fn members(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    limit: usize,
) -> Result<Vec<RoomMember>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at FROM room_members \
         WHERE app_id = $1 AND channel = $2 ORDER BY joined_at, user_id LIMIT $3",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(member).collect()
}

/// How many members a room has.
pub(crate) async fn member_count(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<u64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS members FROM room_members WHERE app_id = $1 AND channel = $2",
    )
    .bind(app)
    .bind(channel.as_str())
    .fetch_one(&mut *connection)
    .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("members")?).unwrap_or(0))
}

/// One row of a user's room list.
pub(crate) struct ListedRoom {
    pub(crate) room: Room,
    pub(crate) role: RoomRole,
}

/// A page of a user's rooms, most recently active first, after the cursor
/// `(last_activity, channel)` when one is given; reads one row more than
/// `limit` so the caller knows whether another page follows.
pub(crate) async fn of_user(
    connection: &mut AnyConnection,
    app: &str,
    user: &str,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<ListedRoom>, StoreError> {
    let (activity, channel) = after.unwrap_or((i64::MAX, String::new()));
    let rows = sqlx::query(
        "SELECT r.channel, r.kind, r.created_by, r.created_at, r.last_activity, m.role \
         FROM room_members m JOIN rooms r ON r.app_id = m.app_id AND r.channel = m.channel \
         WHERE m.app_id = $1 AND m.user_id = $2 \
         AND (r.last_activity < $3 OR (r.last_activity = $3 AND r.channel > $4)) \
         ORDER BY r.last_activity DESC, r.channel ASC LIMIT $5",
    )
    .bind(app)
    .bind(user)
    .bind(activity)
    .bind(channel)
    .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ListedRoom {
                room: room(row)?,
                role: row
                    .try_get::<String, _>("role")?
                    .parse()
                    .map_err(|_| StoreError::corrupt("unknown room role"))?,
            })
        })
        .collect()
}

/// The newest message of a channel that is not deleted and that `user`
/// sees: not another user's shadow message, not from a user they blocked.
/// (A hidden one is returned; its JSON conceals it.)
pub(crate) async fn last_message(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<Message>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE app_id = $1 AND channel = $2 AND deleted_at IS NULL \
         AND (shadow = 0 OR author = $3) \
         AND author NOT IN (SELECT blocked FROM user_blocks WHERE app_id = $1 AND blocker = $3) \
         ORDER BY stream_offset DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(user)
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| rows::message(&row, Some(channel)))
        .transpose()
}
