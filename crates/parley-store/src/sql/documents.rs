//! The documents projection: the `documents` table, one row per document
//! of a channel, and the queries over it.
//!
//! Data is JSON text on both backends (what `sqlx::Any` carries); queries
//! read it with each backend's JSON functions, SQLite's `json_type` and
//! `json_extract`, PostgreSQL's `jsonb` operators, behind [`Dialect`]: the
//! one place the SQL of documents differs. Every condition and order reads
//! a field through three expressions that mean the same on both, so lists
//! and cursors agree: its kind (number, string or other), its number, its
//! string (compared byte by byte). Field names are [`DocumentField`]s, so
//! naming them in the SQL text is safe; values are bound.

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{
    Backend, Bound, Comparison, Condition, Direction, Document, DocumentChanged, DocumentCursor,
    DocumentField, DocumentOrderBy, DocumentQuery, Scalar, StoreError, Timestamp,
};

const COLUMNS: &str = "doc_key, data, version, updated_at, updated_by";

/// The document `key` of the channel.
pub(crate) async fn find(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    key: &str,
) -> Result<Option<Document>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM documents WHERE app_id = $1 AND channel = $2 AND doc_key = $3"
    );
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(channel.as_str())
        .bind(key)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(document).transpose()
}

/// Writes the document's row after `change`, its data serialized as
/// `data`, replacing the one under its key.
pub(crate) async fn upsert(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    change: &DocumentChanged,
    data: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO documents (app_id, channel, doc_key, data, version, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (app_id, channel, doc_key) DO UPDATE SET data = excluded.data, \
         version = excluded.version, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(app)
    .bind(channel.as_str())
    .bind(&change.key)
    .bind(data)
    .bind(i64::try_from(change.version).unwrap_or(i64::MAX))
    .bind(change.updated_at.as_millis())
    .bind(&change.updated_by)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Removes the document's row.
pub(crate) async fn delete(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM documents WHERE app_id = $1 AND channel = $2 AND doc_key = $3")
        .bind(app)
        .bind(channel.as_str())
        .bind(key)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// How many documents the channel holds.
pub(crate) async fn count(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
) -> Result<usize, StoreError> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM documents WHERE app_id = $1 AND channel = $2",
    )
    .bind(app)
    .bind(channel.as_str())
    .fetch_one(&mut *connection)
    .await?;
    Ok(usize::try_from(row.try_get::<i64, _>("n")?).unwrap_or(usize::MAX))
}

/// Up to `limit` documents of the channel that pass the query, in its
/// order, each with the cursor that continues after it.
pub(crate) async fn list(
    connection: &mut AnyConnection,
    backend: Backend,
    app: &str,
    channel: &ChannelName,
    query: &DocumentQuery,
    limit: usize,
) -> Result<Vec<(Document, DocumentCursor)>, StoreError> {
    let dialect = Dialect(backend);
    let mut binds = Binds::default();
    binds.text(app);
    binds.text(channel.as_str());
    let (rank, number, text) = match &query.order_by {
        DocumentOrderBy::UpdatedAt => (
            "CAST(0 AS BIGINT)".to_owned(),
            format!("CAST(updated_at AS {})", dialect.double()),
            "''".to_owned(),
        ),
        DocumentOrderBy::Field(field) => (
            dialect.rank(field),
            dialect.sort_number(field),
            dialect.sort_text(field),
        ),
    };
    let mut conditions = Vec::new();
    for filter in &query.filters {
        conditions.push(dialect.filter(&filter.field, &filter.condition, &mut binds));
    }
    let (direction, beyond) = match query.direction {
        Direction::Asc => ("ASC", ">"),
        Direction::Desc => ("DESC", "<"),
    };
    if let Some(after) = &query.after {
        let rank_at = binds.int(after.rank);
        let number_at = binds.real(after.number);
        let text_at = binds.text(&after.text);
        let key_at = binds.text(&after.key);
        conditions.push(format!(
            "({rank}, {number}, {text}, doc_key) {beyond} ({rank_at}, {number_at}, {text_at}, {key_at})"
        ));
    }
    let limit_at = binds.int(i64::try_from(limit).unwrap_or(i64::MAX));
    let filters: String = conditions
        .iter()
        .map(|condition| format!(" AND {condition}"))
        .collect();
    let sql = format!(
        "SELECT {COLUMNS}, {rank} AS sort_rank, {number} AS sort_number, {text} AS sort_text \
         FROM (SELECT {COLUMNS}, {json} AS j FROM documents WHERE app_id = $1 AND channel = $2) d \
         WHERE 1 = 1{filters} \
         ORDER BY sort_rank {direction}, sort_number {direction}, sort_text {direction}, \
         doc_key {direction} LIMIT {limit_at}",
        json = dialect.json(),
    );
    let mut statement = sqlx::query(&sql);
    for bind in binds.values {
        statement = match bind {
            Bind::Text(value) => statement.bind(value),
            Bind::Int(value) => statement.bind(value),
            Bind::Real(value) => statement.bind(value),
        };
    }
    let rows = statement.fetch_all(&mut *connection).await?;
    rows.iter()
        .map(|row| {
            let document = document(row)?;
            let cursor = DocumentCursor {
                rank: row.try_get("sort_rank")?,
                number: row.try_get("sort_number")?,
                text: row.try_get("sort_text")?,
                key: document.key.clone(),
            };
            Ok((document, cursor))
        })
        .collect()
}

fn document(row: &AnyRow) -> Result<Document, StoreError> {
    let data: String = row.try_get("data")?;
    let data = match serde_json::from_str(&data) {
        Ok(serde_json::Value::Object(data)) => data,
        _ => {
            return Err(StoreError::corrupt(
                "a document's data is not a JSON object",
            ));
        }
    };
    let version: i64 = row.try_get("version")?;
    Ok(Document {
        key: row.try_get("doc_key")?,
        data,
        version: u64::try_from(version)
            .map_err(|_| StoreError::corrupt("a negative document version"))?,
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        updated_by: row.try_get("updated_by")?,
    })
}

/// A value bound to a placeholder.
enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
}

/// The values of a statement built piece by piece: each call binds one and
/// returns its placeholder.
#[derive(Default)]
struct Binds {
    values: Vec<Bind>,
}

impl Binds {
    fn push(&mut self, bind: Bind) -> String {
        self.values.push(bind);
        format!("${}", self.values.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.push(Bind::Text(value.to_owned()))
    }

    fn int(&mut self, value: i64) -> String {
        self.push(Bind::Int(value))
    }

    fn real(&mut self, value: f64) -> String {
        self.push(Bind::Real(value))
    }
}

/// The JSON expressions of one backend, over the column `j` (the data as
/// the backend's JSON).
#[derive(Clone, Copy)]
struct Dialect(Backend);

impl Dialect {
    /// The data as JSON the functions take.
    fn json(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => "data",
            Backend::Postgres => "CAST(data AS jsonb)",
        }
    }

    fn double(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => "REAL",
            Backend::Postgres => "DOUBLE PRECISION",
        }
    }

    /// True when the field holds a number.
    fn is_number(self, field: &DocumentField) -> String {
        let name = field.as_str();
        match self.0 {
            Backend::Sqlite => format!("json_type(j, '$.\"{name}\"') IN ('integer', 'real')"),
            Backend::Postgres => format!("jsonb_typeof(j -> '{name}') = 'number'"),
        }
    }

    /// True when the field holds a string.
    fn is_string(self, field: &DocumentField) -> String {
        let name = field.as_str();
        match self.0 {
            Backend::Sqlite => format!("json_type(j, '$.\"{name}\"') = 'text'"),
            Backend::Postgres => format!("jsonb_typeof(j -> '{name}') = 'string'"),
        }
    }

    /// True when the field holds `null` (`"null"`), `true` or `false`.
    fn is_literal(self, field: &DocumentField, literal: &str) -> String {
        let name = field.as_str();
        match (self.0, literal) {
            (Backend::Sqlite, _) => format!("json_type(j, '$.\"{name}\"') = '{literal}'"),
            (Backend::Postgres, "null") => format!("jsonb_typeof(j -> '{name}') = 'null'"),
            (Backend::Postgres, _) => format!(
                "(jsonb_typeof(j -> '{name}') = 'boolean' AND (j ->> '{name}') = '{literal}')"
            ),
        }
    }

    /// True when the field is present.
    fn exists(self, field: &DocumentField) -> String {
        let name = field.as_str();
        match self.0 {
            Backend::Sqlite => format!("json_type(j, '$.\"{name}\"') IS NOT NULL"),
            Backend::Postgres => format!("(j -> '{name}') IS NOT NULL"),
        }
    }

    /// The field's number, NULL when it holds none. (A CASE, because
    /// PostgreSQL may evaluate the operands of AND in any order.)
    fn number(self, field: &DocumentField) -> String {
        let name = field.as_str();
        let value = match self.0 {
            Backend::Sqlite => format!("CAST(json_extract(j, '$.\"{name}\"') AS REAL)"),
            Backend::Postgres => format!("CAST(j ->> '{name}' AS DOUBLE PRECISION)"),
        };
        format!("(CASE WHEN {} THEN {value} END)", self.is_number(field))
    }

    /// The field's string, NULL when it holds none, compared byte by byte.
    fn string(self, field: &DocumentField) -> String {
        let name = field.as_str();
        match self.0 {
            Backend::Sqlite => format!(
                "(CASE WHEN {} THEN json_extract(j, '$.\"{name}\"') END)",
                self.is_string(field)
            ),
            Backend::Postgres => format!(
                "((CASE WHEN {} THEN j ->> '{name}' END) COLLATE \"C\")",
                self.is_string(field)
            ),
        }
    }

    /// The first sort key of an order by field: 0 for no number or string,
    /// 1 for numbers, 2 for strings.
    fn rank(self, field: &DocumentField) -> String {
        format!(
            "CAST(CASE WHEN {} THEN 1 WHEN {} THEN 2 ELSE 0 END AS BIGINT)",
            self.is_number(field),
            self.is_string(field)
        )
    }

    /// The second: the number, 0 without one.
    fn sort_number(self, field: &DocumentField) -> String {
        format!(
            "COALESCE({}, CAST(0 AS {}))",
            self.number(field),
            self.double()
        )
    }

    /// The third: the string, empty without one.
    fn sort_text(self, field: &DocumentField) -> String {
        format!("COALESCE({}, '')", self.string(field))
    }

    /// The condition as SQL, its values bound.
    fn filter(self, field: &DocumentField, condition: &Condition, binds: &mut Binds) -> String {
        let holds = |test: String| format!("(CASE WHEN {test} THEN 1 ELSE 0 END) = 1");
        match condition {
            Condition::Eq(value) => holds(self.equals(field, value, binds)),
            Condition::Ne(value) => format!(
                "(CASE WHEN {} THEN 1 ELSE 0 END) = 0",
                self.equals(field, value, binds)
            ),
            Condition::In(values) if values.is_empty() => "1 = 0".to_owned(),
            Condition::In(values) => {
                let any = values
                    .iter()
                    .map(|value| format!("({})", self.equals(field, value, binds)))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                holds(any)
            }
            Condition::Compare(comparison, bound) => {
                let operator = match comparison {
                    Comparison::Lt => "<",
                    Comparison::Lte => "<=",
                    Comparison::Gt => ">",
                    Comparison::Gte => ">=",
                };
                let test = match bound {
                    Bound::Number(number) => {
                        format!("{} {operator} {}", self.number(field), binds.real(*number))
                    }
                    Bound::String(text) => {
                        format!("{} {operator} {}", self.string(field), binds.text(text))
                    }
                };
                holds(test)
            }
            Condition::Exists(true) => holds(self.exists(field)),
            Condition::Exists(false) => {
                format!("(CASE WHEN {} THEN 1 ELSE 0 END) = 0", self.exists(field))
            }
        }
    }

    /// True when the field holds `value`.
    fn equals(self, field: &DocumentField, value: &Scalar, binds: &mut Binds) -> String {
        match value {
            Scalar::Null => self.is_literal(field, "null"),
            Scalar::Bool(true) => self.is_literal(field, "true"),
            Scalar::Bool(false) => self.is_literal(field, "false"),
            Scalar::Number(number) => format!("{} = {}", self.number(field), binds.real(*number)),
            Scalar::String(text) => format!("{} = {}", self.string(field), binds.text(text)),
        }
    }
}
