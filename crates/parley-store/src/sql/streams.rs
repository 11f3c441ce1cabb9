//! Streams and their publications: positions, appends, ranges, trims.

use std::sync::Arc;

use parley_core::{ChannelName, PublicationKind, StreamPosition};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use super::rows::{self, offset_from_db, offset_to_db};
use super::{End, Ordered, Window};
use crate::{MessageId, Retention, StoreError, StoredPublication, Timestamp, TrimScope};

/// The position of a stream, if it exists.
pub(crate) async fn position(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<Option<StreamPosition>, StoreError> {
    super::counted();
    let row =
        sqlx::query("SELECT epoch, last_offset FROM streams WHERE app_id = $1 AND channel = $2")
            .bind(app)
            .bind(channel.as_str())
            .fetch_optional(&mut *connection)
            .await?;
    row.map(|row| {
        Ok(StreamPosition {
            offset: offset_from_db(row.try_get("last_offset")?)?,
            epoch: Arc::from(row.try_get::<String, _>("epoch")?),
        })
    })
    .transpose()
}

/// Creates the stream with a fresh epoch unless it exists, and returns its
/// position.
pub(crate) async fn create(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    now: Timestamp,
) -> Result<StreamPosition, StoreError> {
    super::counted();
    sqlx::query(
        "INSERT INTO streams (app_id, channel, epoch, last_offset, created_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (app_id, channel) DO NOTHING",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(new_epoch())
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    position(connection, app, channel)
        .await?
        .ok_or_else(|| StoreError::corrupt("a stream row vanished after its insert"))
}

/// Takes the stream's next offset, creating the stream on its first event.
///
/// This is every channel write's first statement. The row it updates stays
/// locked until the transaction ends, so writers of one channel on several
/// nodes take turns, each reads the state the previous one committed, and
/// offsets are gapless in commit order. Rolling back undoes the increment.
pub(crate) async fn advance(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    now: Timestamp,
) -> Result<StreamPosition, StoreError> {
    super::counted();
    let row = sqlx::query(
        "INSERT INTO streams (app_id, channel, epoch, last_offset, created_at) \
         VALUES ($1, $2, $3, 1, $4) \
         ON CONFLICT (app_id, channel) DO UPDATE SET last_offset = streams.last_offset + 1 \
         RETURNING epoch, last_offset",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(new_epoch())
    .bind(now.as_millis())
    .fetch_one(&mut *connection)
    .await?;
    Ok(StreamPosition {
        offset: offset_from_db(row.try_get("last_offset")?)?,
        epoch: Arc::from(row.try_get::<String, _>("epoch")?),
    })
}

/// [`advance`] for a message sent: in the same statement, counts the
/// message in the channel's `message_count` and `live_messages` when
/// `counted` (a shadow message is not), and returns the `message_count`
/// after it, the message's `seq`.
pub(crate) async fn advance_counting(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    now: Timestamp,
    counted: bool,
) -> Result<(StreamPosition, u64), StoreError> {
    super::counted();
    let row = sqlx::query(
        "INSERT INTO streams \
         (app_id, channel, epoch, last_offset, created_at, message_count, live_messages) \
         VALUES ($1, $2, $3, 1, $4, $5, $5) \
         ON CONFLICT (app_id, channel) DO UPDATE SET last_offset = streams.last_offset + 1, \
         message_count = streams.message_count + $5, live_messages = streams.live_messages + $5 \
         RETURNING epoch, last_offset, message_count",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(new_epoch())
    .bind(now.as_millis())
    .bind(i64::from(counted))
    .fetch_one(&mut *connection)
    .await?;
    let position = StreamPosition {
        offset: offset_from_db(row.try_get("last_offset")?)?,
        epoch: Arc::from(row.try_get::<String, _>("epoch")?),
    };
    Ok((position, offset_from_db(row.try_get("message_count")?)?))
}

/// How far one write of many advances one stream: see [`advance_many`].
pub(crate) struct Advance<'a> {
    pub(crate) app: &'a str,
    pub(crate) channel: &'a ChannelName,
    /// Offsets to take.
    pub(crate) events: u64,
    /// Messages to add to the channel's `message_count` and
    /// `live_messages`.
    pub(crate) counted: u64,
}

/// Where a stream stands after [`advance_many`] moved it.
pub(crate) struct Advanced {
    /// The last offset taken, with the stream's epoch.
    pub(crate) position: StreamPosition,
    /// The channel's message count after the counted messages.
    pub(crate) message_count: u64,
}

/// [`advance_counting`] for many streams at once, each by a number of
/// offsets and messages, in one statement per chunk: the offsets a stream
/// gives are `position.offset - events + 1 ..= position.offset`. The rows
/// are locked in the order of `advances`, which must be the writer's lock
/// order. Returns the streams' positions in that order.
pub(crate) async fn advance_many(
    connection: &mut AnyConnection,
    advances: &[Advance<'_>],
    now: Timestamp,
) -> Result<Vec<Advanced>, StoreError> {
    let mut advanced = Vec::with_capacity(advances.len());
    for chunk in super::chunks(advances.len()) {
        let advances = &advances[chunk];
        // A stream created here starts at the counts it takes; one that
        // exists adds them (`excluded` is the row this statement proposed).
        let sql = format!(
            "INSERT INTO streams \
             (app_id, channel, epoch, last_offset, created_at, message_count, live_messages) \
             VALUES {} \
             ON CONFLICT (app_id, channel) DO UPDATE \
             SET last_offset = streams.last_offset + excluded.last_offset, \
             message_count = streams.message_count + excluded.message_count, \
             live_messages = streams.live_messages + excluded.live_messages \
             RETURNING app_id, channel, epoch, last_offset, message_count",
            super::Placeholders::of(connection).values(advances.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for advance in advances {
            query = query
                .bind(advance.app)
                .bind(advance.channel.as_str())
                .bind(new_epoch())
                .bind(offset_to_db(advance.events))
                .bind(now.as_millis())
                .bind(offset_to_db(advance.counted))
                .bind(offset_to_db(advance.counted));
        }
        super::counted();
        let rows = query.fetch_all(&mut *connection).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let app: String = row.try_get("app_id")?;
            let channel: String = row.try_get("channel")?;
            found.push((app, channel, row));
        }
        for (index, advance) in advances.iter().enumerate() {
            let matches = |(app, channel, _): &&(String, String, &AnyRow)| {
                app == advance.app && channel == advance.channel.as_str()
            };
            // Both backends return the rows in the order inserted; the
            // search is for the day one does not.
            let row = found
                .get(index)
                .filter(matches)
                .or_else(|| found.iter().find(matches))
                .map(|(_, _, row)| *row)
                .ok_or_else(|| StoreError::corrupt("a stream advanced without its row"))?;
            advanced.push(Advanced {
                position: StreamPosition {
                    offset: offset_from_db(row.try_get("last_offset")?)?,
                    epoch: Arc::from(row.try_get::<String, _>("epoch")?),
                },
                message_count: offset_from_db(row.try_get("message_count")?)?,
            });
        }
    }
    Ok(advanced)
}

/// Adds `change` (1 or -1) to the channel's `live_messages`: a message
/// deleted, hidden or shown again. The write holds the stream's turn, so
/// the row exists and is locked.
pub(crate) async fn count_live(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    change: i64,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query(
        "UPDATE streams SET live_messages = live_messages + $1 \
         WHERE app_id = $2 AND channel = $3",
    )
    .bind(change)
    .bind(app)
    .bind(channel.as_str())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The channel's `live_messages`: 0 for a channel without a stream.
pub(crate) async fn live_messages(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<u64, StoreError> {
    super::counted();
    let row = sqlx::query("SELECT live_messages FROM streams WHERE app_id = $1 AND channel = $2")
        .bind(app)
        .bind(channel.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    match row {
        // Never below zero: every decrement undoes an increment.
        Some(row) => Ok(u64::try_from(row.try_get::<i64, _>("live_messages")?).unwrap_or(0)),
        None => Ok(0),
    }
}

/// Appends many publications, each with its app, in one statement per
/// chunk; their offsets
/// come from [`advance_many`] (or [`advance`]) in the same transaction.
pub(crate) async fn append_many(
    connection: &mut AnyConnection,
    publications: &[(&str, StoredPublication)],
) -> Result<(), StoreError> {
    for chunk in super::chunks(publications.len()) {
        let publications = &publications[chunk];
        let sql = format!(
            "INSERT INTO publications \
             (app_id, channel, stream_offset, kind, data, message_id, created_at, author, audience) \
             VALUES {}",
            super::Placeholders::of(connection).values(publications.len(), 9)
        );
        let mut query = sqlx::query(&sql);
        for (app, publication) in publications {
            query = query
                .bind(*app)
                .bind(publication.channel.as_str())
                .bind(offset_to_db(publication.position.offset))
                .bind(publication.kind.as_str())
                .bind(&publication.data[..])
                .bind(publication.message_id.map(MessageId::get))
                .bind(publication.created_at.as_millis())
                .bind(publication.author.as_deref())
                .bind(publication.audience.as_deref());
        }
        super::counted();
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Appends a publication; its offset comes from [`advance`] in the same
/// transaction.
pub(crate) async fn append(
    connection: &mut AnyConnection,
    app: &str,
    publication: &StoredPublication,
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query(
        "INSERT INTO publications \
         (app_id, channel, stream_offset, kind, data, message_id, created_at, author, audience) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(app)
    .bind(publication.channel.as_str())
    .bind(offset_to_db(publication.position.offset))
    .bind(publication.kind.as_str())
    .bind(&publication.data[..])
    .bind(publication.message_id.map(MessageId::get))
    .bind(publication.created_at.as_millis())
    .bind(publication.author.as_deref())
    .bind(publication.audience.as_deref())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The publications of a stream with `epoch` in `window`, oldest first.
pub(crate) async fn range(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    epoch: &Arc<str>,
    window: Window,
) -> Result<Vec<StoredPublication>, StoreError> {
    let rows = super::window_rows(connection, Ordered::Publications, app, channel, window).await?;
    let mut publications = rows
        .iter()
        .map(|row| rows::publication(row, channel, epoch))
        .collect::<Result<Vec<_>, _>>()?;
    if window.end == End::Newest {
        publications.reverse();
    }
    Ok(publications)
}

/// Replaces the data of a message's earlier events of one kind: deleting a
/// message re-encodes them from its tombstone, so its text does not survive
/// in history or recovery.
pub(crate) async fn redact(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    message: MessageId,
    kind: PublicationKind,
    data: &[u8],
) -> Result<(), StoreError> {
    super::counted();
    sqlx::query(
        "UPDATE publications SET data = $1 \
         WHERE app_id = $2 AND channel = $3 AND message_id = $4 AND kind = $5",
    )
    .bind(data)
    .bind(app)
    .bind(channel.as_str())
    .bind(message.get())
    .bind(kind.as_str())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Removes the publications that `retention` no longer keeps and returns how
/// many. Streams keep their epoch and last offset, so offsets go on.
pub(crate) async fn trim(
    connection: &mut AnyConnection,
    app: &str,
    scope: &TrimScope,
    retention: Retention,
) -> Result<u64, StoreError> {
    let scope = ScopeSql::new(scope);
    let mut removed = 0;
    if let Some(keep_last) = retention.keep_last {
        let sql = format!(
            "DELETE FROM publications WHERE app_id = $1 AND {} AND stream_offset <= \
             (SELECT s.last_offset FROM streams s \
              WHERE s.app_id = publications.app_id AND s.channel = publications.channel) - $2",
            scope.filter
        );
        super::counted();
        let query = sqlx::query(&sql).bind(app).bind(offset_to_db(keep_last));
        removed += scope
            .bind(query)
            .execute(&mut *connection)
            .await?
            .rows_affected();
    }
    if let Some(older_than) = retention.older_than {
        let sql = format!(
            "DELETE FROM publications WHERE app_id = $1 AND {} AND created_at < $2",
            scope.filter
        );
        super::counted();
        let query = sqlx::query(&sql).bind(app).bind(older_than.as_millis());
        removed += scope
            .bind(query)
            .execute(&mut *connection)
            .await?
            .rows_affected();
    }
    Ok(removed)
}

/// A trim scope in SQL: a condition on the parameters after the app ($1)
/// and the limit ($2), and their values.
struct ScopeSql {
    filter: &'static str,
    /// $3: a channel name or a namespace's `name:` prefix.
    text: Option<String>,
    /// $4: the prefix's length in characters.
    length: Option<i64>,
}

impl ScopeSql {
    fn new(scope: &TrimScope) -> Self {
        match scope {
            TrimScope::Channel(channel) => Self {
                filter: "channel = $3",
                text: Some(channel.as_str().to_owned()),
                length: None,
            },
            // substr and CAST read the same on both backends, where a range
            // comparison would depend on PostgreSQL's collation.
            TrimScope::Namespace(Some(namespace)) => {
                let prefix = format!("{namespace}:");
                Self {
                    filter: "substr(channel, 1, CAST($4 AS INTEGER)) = $3",
                    length: Some(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX)),
                    text: Some(prefix),
                }
            }
            TrimScope::Namespace(None) => Self {
                filter: "channel NOT LIKE '%:%'",
                text: None,
                length: None,
            },
            TrimScope::AllChannels => Self {
                filter: "1 = 1",
                text: None,
                length: None,
            },
        }
    }

    fn bind<'q>(
        &'q self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        if let Some(text) = &self.text {
            query = query.bind(text.as_str());
        }
        if let Some(length) = self.length {
            query = query.bind(length);
        }
        query
    }
}

/// A fresh epoch: 64 random bits in hex, so a recreated stream (a new
/// database, say) never repeats an old epoch.
fn new_epoch() -> String {
    format!("{:016x}", rand::random::<u64>())
}
