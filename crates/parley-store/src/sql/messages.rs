//! Chat messages and their edit trail.

use parley_core::ChannelName;
use sqlx::{AnyConnection, Row};

use super::rows::{self, MESSAGE_COLUMNS, channel_from_db, offset_to_db};
use super::{End, Ordered, Window};
use crate::{Message, MessageId, NewMessage, Revision, StoreError, Timestamp};

/// Inserts a new message whose `message_created` event has `offset`, and
/// returns it as stored.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    new: &NewMessage,
    offset: u64,
    seq: u64,
    now: Timestamp,
) -> Result<Message, StoreError> {
    super::counted();
    let row = sqlx::query(
        "INSERT INTO messages \
         (app_id, channel, stream_offset, author, body, reply_to, meta, client_msg_id, created_at, \
          seq, mentions, shadow, author_name, author_avatar) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&*new.app)
    .bind(new.channel.as_str())
    .bind(offset_to_db(offset))
    .bind(new.author.as_str())
    .bind(new.text.as_str())
    .bind(new.reply_to.map(MessageId::get))
    .bind(new.meta.as_deref())
    .bind(new.client_msg_id.as_deref())
    .bind(now.as_millis())
    .bind(offset_to_db(seq))
    .bind(rows::lines_to_db(&new.mentions))
    .bind(i64::from(new.shadow))
    .bind(new.author_name.as_deref())
    .bind(new.author_avatar.as_deref())
    .fetch_one(&mut *connection)
    .await?;
    Ok(stored(new, MessageId::new(row.try_get("id")?), offset, now))
}

/// A message to insert with [`insert_many`]: the request and the offset
/// and seq its turn gave it.
pub(crate) struct Insert<'a> {
    pub(crate) new: &'a NewMessage,
    pub(crate) offset: u64,
    pub(crate) seq: u64,
}

/// [`insert`] for many messages, in one statement per chunk; returns them
/// as stored, in the order given.
pub(crate) async fn insert_many(
    connection: &mut AnyConnection,
    inserts: &[Insert<'_>],
    now: Timestamp,
) -> Result<Vec<Message>, StoreError> {
    let mut messages = Vec::with_capacity(inserts.len());
    for chunk in super::chunks(inserts.len()) {
        let inserts = &inserts[chunk];
        let sql = format!(
            "INSERT INTO messages \
             (app_id, channel, stream_offset, author, body, reply_to, meta, client_msg_id, \
              created_at, seq, mentions, shadow, author_name, author_avatar) \
             VALUES {} RETURNING id, app_id, channel, stream_offset",
            super::Placeholders::of(connection).values(inserts.len(), 14)
        );
        let mut query = sqlx::query(&sql);
        for insert in inserts {
            let new = insert.new;
            query = query
                .bind(&*new.app)
                .bind(new.channel.as_str())
                .bind(offset_to_db(insert.offset))
                .bind(new.author.as_str())
                .bind(new.text.as_str())
                .bind(new.reply_to.map(MessageId::get))
                .bind(new.meta.as_deref())
                .bind(new.client_msg_id.as_deref())
                .bind(now.as_millis())
                .bind(offset_to_db(insert.seq))
                .bind(rows::lines_to_db(&new.mentions))
                .bind(i64::from(new.shadow))
                .bind(new.author_name.as_deref())
                .bind(new.author_avatar.as_deref());
        }
        super::counted();
        let rows = query.fetch_all(&mut *connection).await?;
        // A message is known by its app, channel and offset.
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let app: String = row.try_get("app_id")?;
            let channel: String = row.try_get("channel")?;
            let offset = rows::offset_from_db(row.try_get("stream_offset")?)?;
            ids.push((app, channel, offset, MessageId::new(row.try_get("id")?)));
        }
        for (index, insert) in inserts.iter().enumerate() {
            let new = insert.new;
            let matches = |(app, channel, offset, _): &&(String, String, u64, MessageId)| {
                *offset == insert.offset
                    && channel == new.channel.as_str()
                    && app.as_str() == &*new.app
            };
            // Both backends return the rows in the order inserted; the
            // search is for the day one does not.
            let id = ids
                .get(index)
                .filter(matches)
                .or_else(|| ids.iter().find(matches))
                .map(|(.., id)| *id)
                .ok_or_else(|| StoreError::corrupt("a message inserted without its row"))?;
            messages.push(stored(new, id, insert.offset, now));
        }
    }
    Ok(messages)
}

/// A message just inserted, as [`find`] would read it back.
fn stored(new: &NewMessage, id: MessageId, offset: u64, now: Timestamp) -> Message {
    Message {
        id,
        channel: new.channel.clone(),
        offset,
        author: new.author.clone(),
        author_name: new.author_name.clone(),
        author_avatar: new.author_avatar.clone(),
        text: new.text.clone(),
        reply_to: new.reply_to,
        client_msg_id: new.client_msg_id.clone(),
        meta: new.meta.clone(),
        created_at: now,
        edited_at: None,
        deleted_at: None,
        reply_count: 0,
        repliers: Vec::new(),
        mentions: new.mentions.clone(),
        hidden: false,
        shadow: new.shadow,
        attachments: Vec::new(),
    }
}

/// The message with this id in `app`, tombstones included.
pub(crate) async fn find(
    connection: &mut AnyConnection,
    app: &str,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE app_id = $1 AND id = $2");
    super::counted();
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(id.get())
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| rows::message(&row, None)).transpose()
}

/// A message that is not deleted, or `NotFound`: what an edit or a hide
/// acts on.
pub(crate) async fn find_live(
    connection: &mut AnyConnection,
    app: &str,
    id: MessageId,
) -> Result<Message, StoreError> {
    find(connection, app, id)
        .await?
        .filter(|message| !message.is_deleted())
        .ok_or(StoreError::NotFound("message"))
}

/// The message `author` sent before in `channel` with this idempotency key.
pub(crate) async fn find_sent(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    author: &str,
    client_msg_id: &str,
) -> Result<Option<Message>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE app_id = $1 AND channel = $2 AND author = $3 AND client_msg_id = $4"
    );
    super::counted();
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(author)
        .bind(client_msg_id)
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| rows::message(&row, Some(channel)))
        .transpose()
}

/// An idempotency key to look up with [`find_sent_many`].
pub(crate) struct SentKey<'a> {
    pub(crate) app: &'a str,
    pub(crate) channel: &'a ChannelName,
    pub(crate) author: &'a str,
    pub(crate) client_msg_id: &'a str,
}

/// [`find_sent`] for many keys, in one statement per chunk: the messages
/// found, each with its app, in no particular order.
pub(crate) async fn find_sent_many(
    connection: &mut AnyConnection,
    keys: &[SentKey<'_>],
) -> Result<Vec<(String, Message)>, StoreError> {
    let mut found = Vec::new();
    for chunk in super::chunks(keys.len()) {
        let keys = &keys[chunk];
        // One condition per key, each an exact match on the unique index.
        let mut placeholders = super::Placeholders::of(connection);
        let mut conditions = String::with_capacity(keys.len() * 72);
        for key in 0..keys.len() {
            if key > 0 {
                conditions.push_str(" OR ");
            }
            for (index, column) in ["app_id", "channel", "author", "client_msg_id"]
                .into_iter()
                .enumerate()
            {
                conditions.push_str(if index == 0 { "(" } else { " AND " });
                conditions.push_str(column);
                conditions.push_str(" = ");
                placeholders.push(&mut conditions);
            }
            conditions.push(')');
        }
        let sql = format!("SELECT app_id, {MESSAGE_COLUMNS} FROM messages WHERE {conditions}");
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query
                .bind(key.app)
                .bind(key.channel.as_str())
                .bind(key.author)
                .bind(key.client_msg_id);
        }
        super::counted();
        for row in query.fetch_all(&mut *connection).await? {
            found.push((row.try_get("app_id")?, rows::message(&row, None)?));
        }
    }
    Ok(found)
}

/// The channel of a message. A message never moves, so this needs no lock.
pub(crate) async fn channel_of(
    connection: &mut AnyConnection,
    app: &str,
    id: MessageId,
) -> Result<Option<ChannelName>, StoreError> {
    super::counted();
    let row = sqlx::query("SELECT channel FROM messages WHERE app_id = $1 AND id = $2")
        .bind(app)
        .bind(id.get())
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| channel_from_db(&row.try_get::<String, _>("channel")?))
        .transpose()
}

/// Records `previous` as the next revision of the message's edit trail.
pub(crate) async fn add_revision(
    connection: &mut AnyConnection,
    id: MessageId,
    previous: &str,
    replaced_at: Timestamp,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query(
        "INSERT INTO message_revisions (message_id, revision, body, replaced_at) \
         SELECT $1, COALESCE(MAX(revision), 0) + 1, $2, $3 \
         FROM message_revisions WHERE message_id = $1",
    )
    .bind(id.get())
    .bind(previous)
    .bind(replaced_at.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Sets a message's text after an edit.
pub(crate) async fn set_text(
    connection: &mut AnyConnection,
    id: MessageId,
    text: &str,
    edited_at: Timestamp,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query("UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3")
        .bind(text)
        .bind(edited_at.as_millis())
        .bind(id.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The texts a message had before its edits, oldest first.
pub(crate) async fn revisions(
    connection: &mut AnyConnection,
    id: MessageId,
) -> Result<Vec<Revision>, StoreError> {
    super::counted();
    let rows = sqlx::query(
        "SELECT revision, body, replaced_at FROM message_revisions \
         WHERE message_id = $1 ORDER BY revision",
    )
    .bind(id.get())
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Revision {
                number: revision_from_db(row.try_get("revision")?)?,
                text: row.try_get("body")?,
                replaced_at: Timestamp::from_millis(row.try_get("replaced_at")?),
            })
        })
        .collect()
}

/// Turns a message into a tombstone: text and meta cleared, `deleted_at`
/// set, edit trail removed (deleting a message deletes its earlier texts
/// too).
pub(crate) async fn bury(
    connection: &mut AnyConnection,
    id: MessageId,
    deleted_at: Timestamp,
) -> Result<(), StoreError> {
    forget_revisions(connection, id).await?;
    super::counted();
    sqlx::query("UPDATE messages SET body = '', meta = NULL, deleted_at = $1 WHERE id = $2")
        .bind(deleted_at.as_millis())
        .bind(id.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Removes a message and its edit trail.
pub(crate) async fn remove(
    connection: &mut AnyConnection,
    id: MessageId,
) -> Result<(), StoreError> {
    forget_revisions(connection, id).await?;
    super::counted();
    sqlx::query("DELETE FROM messages WHERE id = $1")
        .bind(id.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Removes a message's edit trail. The foreign key would cascade on a hard
/// delete, but a tombstone keeps its row, so both paths say it explicitly.
async fn forget_revisions(connection: &mut AnyConnection, id: MessageId) -> Result<(), StoreError> {
    super::counted();
    sqlx::query("DELETE FROM message_revisions WHERE message_id = $1")
        .bind(id.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The messages of a channel in `window`, oldest first.
pub(crate) async fn range(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    window: Window,
) -> Result<Vec<Message>, StoreError> {
    let rows = super::window_rows(connection, Ordered::Messages, app, channel, window).await?;
    let mut messages = rows
        .iter()
        .map(|row| rows::message(row, Some(channel)))
        .collect::<Result<Vec<_>, _>>()?;
    if window.end == End::Newest {
        messages.reverse();
    }
    Ok(messages)
}

/// A revision number read from the database.
fn revision_from_db(number: i64) -> Result<u64, StoreError> {
    u64::try_from(number).map_err(|_| StoreError::corrupt(format!("revision number {number}")))
}
