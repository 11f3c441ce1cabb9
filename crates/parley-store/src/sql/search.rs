//! Full-text search: FTS5 on SQLite, a `tsvector` with a GIN index on
//! PostgreSQL. The one place where the SQL differs per backend, beyond the
//! migrations.

use sqlx::AnyConnection;

use super::rows::{self, MESSAGE_COLUMNS};
use crate::{Backend, Message, SearchQuery, SearchScope, StoreError};

/// The messages matching every word of the query in its scope, newest
/// first (by id, which grows with time), never deleted ones, at most
/// `limit`.
pub(crate) async fn search(
    connection: &mut AnyConnection,
    backend: Backend,
    app: &str,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let columns = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("m.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Each word is quoted (FTS5) or passed as plain text (PostgreSQL), so
    // the query syntax of neither backend reaches the database.
    let (from, matches, terms) = match backend {
        Backend::Sqlite => (
            "messages_fts f JOIN messages m ON m.id = f.rowid",
            "messages_fts MATCH $1",
            query
                .words
                .iter()
                .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Backend::Postgres => (
            "messages m",
            "m.search @@ plainto_tsquery('simple', $1)",
            query.words.join(" "),
        ),
    };
    let scope = match &query.scope {
        SearchScope::Channel(_) => "m.channel = $3",
        SearchScope::RoomsOf(_) => {
            "m.channel IN (SELECT channel FROM room_members WHERE app_id = $2 AND user_id = $3)"
        }
    };
    let sql = format!(
        "SELECT {columns} FROM {from} \
         WHERE {matches} AND m.app_id = $2 AND {scope} AND m.deleted_at IS NULL AND m.id < $4 \
         ORDER BY m.id DESC LIMIT $5"
    );
    let scope_value = match &query.scope {
        SearchScope::Channel(channel) => channel.as_str(),
        SearchScope::RoomsOf(user) => user.as_str(),
    };
    super::counted();
    let rows = sqlx::query(&sql)
        .bind(terms)
        .bind(app)
        .bind(scope_value)
        .bind(query.before.map_or(i64::MAX, |id| id.get()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(|row| rows::message(row, None)).collect()
}
