//! Turning rows into the store's types, and the store's numbers into the
//! database's.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, PublicationKind, StreamPosition};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Message, MessageId, StoreError, StoredPublication, Timestamp};

/// The columns [`message`] reads, in a `SELECT` of the `messages` table.
pub(crate) const MESSAGE_COLUMNS: &str = "id, channel, stream_offset, author, author_name, \
     author_avatar, body, reply_to, client_msg_id, meta, created_at, edited_at, deleted_at, \
     reply_count, repliers, mentions, hidden, shadow";

/// The columns [`publication`] reads, in a `SELECT` of the `publications`
/// table.
pub(crate) const PUBLICATION_COLUMNS: &str =
    "stream_offset, kind, data, message_id, created_at, author, audience";

/// An offset as the database stores it. Offsets never come near `i64::MAX`;
/// a larger one from a caller means "after everything".
pub(crate) fn offset_to_db(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// An offset read from the database.
pub(crate) fn offset_from_db(offset: i64) -> Result<u64, StoreError> {
    u64::try_from(offset).map_err(|_| StoreError::corrupt(format!("negative offset {offset}")))
}

/// A channel name read from the database.
pub(crate) fn channel_from_db(name: &str) -> Result<ChannelName, StoreError> {
    ChannelName::new(name)
        .map_err(|error| StoreError::corrupt(format!("stored channel {name:?}: {error}")))
}

/// A message row. `channel` is the channel the caller asked about, if it
/// knows it, so that pages do not parse the same name once per row.
pub(crate) fn message(row: &AnyRow, channel: Option<&ChannelName>) -> Result<Message, StoreError> {
    let channel = match channel {
        Some(channel) => channel.clone(),
        None => channel_from_db(&row.try_get::<String, _>("channel")?)?,
    };
    Ok(Message {
        id: MessageId::new(row.try_get("id")?),
        channel,
        offset: offset_from_db(row.try_get("stream_offset")?)?,
        author: row.try_get("author")?,
        author_name: row.try_get("author_name")?,
        author_avatar: row.try_get("author_avatar")?,
        text: row.try_get("body")?,
        reply_to: row
            .try_get::<Option<i64>, _>("reply_to")?
            .map(MessageId::new),
        client_msg_id: row.try_get("client_msg_id")?,
        meta: row
            .try_get::<Option<Vec<u8>>, _>("meta")?
            .map(|meta| text_from_db("meta", meta))
            .transpose()?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        edited_at: row
            .try_get::<Option<i64>, _>("edited_at")?
            .map(Timestamp::from_millis),
        deleted_at: row
            .try_get::<Option<i64>, _>("deleted_at")?
            .map(Timestamp::from_millis),
        reply_count: u64::try_from(row.try_get::<i64, _>("reply_count")?).unwrap_or(0),
        repliers: lines_from_db(&row.try_get::<String, _>("repliers")?),
        mentions: lines_from_db(&row.try_get::<String, _>("mentions")?),
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        shadow: row.try_get::<i64, _>("shadow")? != 0,
        attachments: Vec::new(),
    })
}

/// A publication row of `channel`, whose stream has `epoch`.
pub(crate) fn publication(
    row: &AnyRow,
    channel: &ChannelName,
    epoch: &Arc<str>,
) -> Result<StoredPublication, StoreError> {
    Ok(StoredPublication {
        channel: channel.clone(),
        position: StreamPosition {
            offset: offset_from_db(row.try_get("stream_offset")?)?,
            epoch: epoch.clone(),
        },
        kind: kind_from_db(&row.try_get::<String, _>("kind")?)?,
        data: text_from_db("data", row.try_get::<Vec<u8>, _>("data")?)?,
        message_id: row
            .try_get::<Option<i64>, _>("message_id")?
            .map(MessageId::new),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        author: row.try_get::<Option<String>, _>("author")?.map(Arc::from),
        audience: row.try_get::<Option<String>, _>("audience")?.map(Arc::from),
    })
}

/// A column the server copies into frames as JSON text. The store wrote
/// only validated JSON there, but what the database hands back is checked
/// to be UTF-8 once here, so that a damaged row is an error of this read
/// and never a panic in an encoder.
pub(crate) fn text_from_db(column: &str, bytes: Vec<u8>) -> Result<Bytes, StoreError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Bytes::from(text)),
        Err(_) => Err(StoreError::corrupt(format!("stored {column} is not UTF-8"))),
    }
}

/// User ids kept one per line in a text column.
pub(crate) fn lines_to_db(users: &[String]) -> String {
    users.join("\n")
}

/// User ids read back from a text column, one per line.
pub(crate) fn lines_from_db(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

/// A publication's kind from its stored name.
pub(crate) fn kind_from_db(name: &str) -> Result<PublicationKind, StoreError> {
    PublicationKind::from_name(name)
        .ok_or_else(|| StoreError::corrupt(format!("invalid event kind {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_text_column_that_is_not_utf8_is_an_error_not_a_panic() {
        assert_eq!(
            &text_from_db("data", b"{\"a\":1}".to_vec()).unwrap()[..],
            b"{\"a\":1}"
        );
        let error = text_from_db("data", vec![b'"', 0xff, b'"']).unwrap_err();
        assert!(
            error.to_string().contains("stored data is not UTF-8"),
            "{error}"
        );
    }
}
