//! The store's SQL, written once for both backends.
//!
//! Every statement here runs unchanged on SQLite and PostgreSQL through
//! `sqlx::Any`: both accept `$1` placeholders (the multi-row statements
//! write theirs with [`Placeholders`], plain `?` on SQLite), `RETURNING`, `ON CONFLICT` and
//! partial indexes, and the schema uses only integers, text and bytes, the
//! types `Any` carries without loss. What differs between the backends (the
//! DDL, the connection settings, how a write transaction begins) lives in
//! the migrations and in `database.rs`.
//!
//! Functions take a `&mut AnyConnection`, so the same function serves the
//! writer's transaction and a reader's pooled connection.

pub(crate) mod connect_profile;
pub(crate) mod documents;
pub(crate) mod messages;
pub(crate) mod moderation;
pub(crate) mod pins;
pub(crate) mod reactions;
pub(crate) mod reads;
pub(crate) mod reports;
pub(crate) mod rooms;
pub(crate) mod rows;
pub(crate) mod search;
pub(crate) mod streams;
pub(crate) mod threads;
pub(crate) mod uploads;
pub(crate) mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::StoreError;
use rows::offset_to_db;

tokio::task_local! {
    /// The writer's count of the statements it ran, set for the writer's
    /// task only (see [`counting`]): readers' statements are not counted.
    static STATEMENTS: Arc<AtomicU64>;
}

/// Runs `future` (the writer task) with `statements` counting every
/// statement [`counted`] notes in it.
pub(crate) async fn counting<F: Future>(statements: Arc<AtomicU64>, future: F) -> F::Output {
    STATEMENTS.scope(statements, future).await
}

/// Notes one statement sent to the database, for the writer's statement
/// count: how many round trips a write costs is what bounds the store's
/// throughput, so the count is measured rather than guessed. Outside the
/// writer's task this does nothing.
pub(crate) fn counted() {
    let _ = STATEMENTS.try_with(|statements| statements.fetch_add(1, Ordering::Relaxed));
}

/// The most rows one multi-row statement writes. Chunks are powers of two
/// up to this, so a statement has at most seven texts (1, 2, 4, … 64 rows)
/// and each stays in the connection's statement cache (sqlx keeps 100 per
/// connection), where a text per batch size would push each other out and
/// be prepared again; 64 rows of a dozen columns also stay far below
/// SQLite's limit of bound parameters.
const MAX_ROWS: usize = 64;

/// Splits `len` rows into chunks for multi-row statements: the largest
/// power of two up to [`MAX_ROWS`] first, so 100 rows are written as 64,
/// 32 and 4.
pub(crate) fn chunks(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = len - start;
        if left == 0 {
            return None;
        }
        let size = if left >= MAX_ROWS {
            MAX_ROWS
        } else {
            1 << left.ilog2()
        };
        let range = start..start + size;
        start += size;
        Some(range)
    })
}

/// Writes the parameters of a statement built at run time (the multi-row
/// ones), numbered in the order they appear: `$1, $2, …` on PostgreSQL and
/// plain `?` on SQLite.
///
/// SQLite finds a numbered parameter's name by walking a list of every
/// name in the statement, and sqlx asks that name for each value it binds,
/// so binding a statement of n numbered parameters costs n²/2 steps: with
/// 64-row inserts it was 30% of the SQLite thread's time (17% of the
/// server's CPU in the chat benchmark). An anonymous `?` has no name to
/// find. A text written this way must bind its values in the order it
/// names them, and name each once, as the multi-row statements do.
pub(crate) struct Placeholders {
    numbered: bool,
    written: usize,
}

impl Placeholders {
    /// The placeholders of `connection`'s backend, starting at the first.
    pub(crate) fn of(connection: &AnyConnection) -> Self {
        Self {
            numbered: connection.backend_name() != <sqlx::Sqlite as sqlx::Database>::NAME,
            written: 0,
        }
    }

    /// Appends the next parameter's placeholder to `text`.
    pub(crate) fn push(&mut self, text: &mut String) {
        self.written += 1;
        if self.numbered {
            text.push('$');
            text.push_str(&self.written.to_string());
        } else {
            text.push('?');
        }
    }

    /// The `VALUES` list of a multi-row statement: `rows` tuples of
    /// `columns` placeholders each.
    pub(crate) fn values(&mut self, rows: usize, columns: usize) -> String {
        let mut text = String::with_capacity(rows * columns * 5);
        for row in 0..rows {
            if row > 0 {
                text.push_str(", ");
            }
            text.push('(');
            for column in 0..columns {
                if column > 0 {
                    text.push_str(", ");
                }
                self.push(&mut text);
            }
            text.push(')');
        }
        text
    }
}

/// Which end of a range a page is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The lowest offsets of the range.
    Oldest,
    /// The highest offsets of the range.
    Newest,
}

/// A slice of a channel to read: up to `limit` rows with
/// `after < stream_offset <= up_to`, taken from `end` of that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) after: u64,
    pub(crate) up_to: u64,
    pub(crate) end: End,
    pub(crate) limit: usize,
}

impl Window {
    /// The window `after < stream_offset <= up_to`, read from `end`.
    pub(crate) fn new(after: u64, up_to: u64, end: End, limit: usize) -> Self {
        Self {
            after,
            up_to,
            end,
            limit,
        }
    }
}

/// A table whose rows are ordered by `stream_offset` within a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ordered {
    Publications,
    Messages,
}

impl Ordered {
    fn table(self) -> &'static str {
        match self {
            Ordered::Publications => "publications",
            Ordered::Messages => "messages",
        }
    }

    fn columns(self) -> &'static str {
        match self {
            Ordered::Publications => rows::PUBLICATION_COLUMNS,
            Ordered::Messages => rows::MESSAGE_COLUMNS,
        }
    }
}

/// The rows of `table` for the channel in `window`, in the order they are
/// taken: oldest first from [`End::Oldest`], newest first from
/// [`End::Newest`] (callers reverse those).
pub(crate) async fn window_rows(
    connection: &mut AnyConnection,
    table: Ordered,
    app: &str,
    channel: &ChannelName,
    window: Window,
) -> Result<Vec<AnyRow>, StoreError> {
    let direction = match window.end {
        End::Oldest => "ASC",
        End::Newest => "DESC",
    };
    let sql = format!(
        "SELECT {} FROM {} \
         WHERE app_id = $1 AND channel = $2 AND stream_offset > $3 AND stream_offset <= $4 \
         ORDER BY stream_offset {direction} LIMIT $5",
        table.columns(),
        table.table(),
    );
    counted();
    Ok(sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(offset_to_db(window.after))
        .bind(offset_to_db(window.up_to))
        .bind(i64::try_from(window.limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?)
}

/// Whether a channel has rows beyond a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Beyond {
    /// A row with an offset below the page's lowest.
    pub(crate) older: bool,
    /// A row with an offset above the page's highest.
    pub(crate) newer: bool,
}

/// Whether `table` holds rows of the channel with an offset below `lowest`,
/// and rows with an offset above `highest`: the `has_older` and `has_newer`
/// of a page. Both are index lookups.
pub(crate) async fn beyond(
    connection: &mut AnyConnection,
    table: Ordered,
    app: &str,
    channel: &ChannelName,
    lowest: u64,
    highest: u64,
) -> Result<Beyond, StoreError> {
    let table = table.table();
    // CASE and CAST give an integer on both backends, where a bare EXISTS
    // would be a boolean on one and an integer on the other.
    let sql = format!(
        "SELECT \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM {table} \
             WHERE app_id = $1 AND channel = $2 AND stream_offset < $3) THEN 1 ELSE 0 END AS BIGINT) \
             AS older, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM {table} \
             WHERE app_id = $1 AND channel = $2 AND stream_offset > $4) THEN 1 ELSE 0 END AS BIGINT) \
             AS newer"
    );
    counted();
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(offset_to_db(lowest))
        .bind(offset_to_db(highest))
        .fetch_one(&mut *connection)
        .await?;
    Ok(Beyond {
        older: row.try_get::<i64, _>("older")? != 0,
        newer: row.try_get::<i64, _>("newer")? != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_up_to_the_most_rows() {
        let sizes = |len| chunks(len).map(|range| range.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(100), vec![64, 32, 4]);
        assert_eq!(sizes(200), vec![64, 64, 64, 8]);
        let covered: Vec<usize> = chunks(77).flatten().collect();
        assert_eq!(covered, (0..77).collect::<Vec<_>>());
    }

    #[test]
    fn values_number_the_placeholders_row_by_row_or_leave_them_anonymous() {
        let mut numbered = Placeholders {
            numbered: true,
            written: 0,
        };
        assert_eq!(numbered.values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(numbered.values(1, 1), "($7)");
        let mut anonymous = Placeholders {
            numbered: false,
            written: 0,
        };
        assert_eq!(anonymous.values(2, 2), "(?, ?), (?, ?)");
    }
}
