//! Live documents: small JSON objects kept on a channel, each under a key,
//! with a version and its last writer. A write (`set`, `merge`,
//! `increment`, `delete`) is a [`Change`]: it takes the channel's turn,
//! reads the document under that lock, applies the edit, updates the
//! projection (the `documents` table, `sql/documents.rs`) and appends one
//! `doc_changed` event, so every change has a stream position and is
//! recovered like any publication. Reads ([`Store::document`],
//! [`Store::documents`]) come from the projection, filtered and ordered by
//! each backend's JSON functions.
//!
//! Documents are JSON by definition, so this file (and only this file of
//! the store) reads JSON: a merge patch and an increment must be applied
//! inside the writer's transaction, on the version the lock protects.

use std::sync::Arc;

use parley_core::{ChannelName, EventKind};
use serde_json::{Map, Number, Value};
use sqlx::AnyConnection;

use crate::commands::{Change, Context};
use crate::event::{self, Encoded, EventEncoder, Turn};
use crate::sql::documents;
use crate::{Store, StoreError, StoredPublication, Timestamp};

/// The longest document key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The most documents one list or query returns.
pub const MAX_DOCUMENT_PAGE: usize = 100;
/// The longest top-level field name a query may name, in bytes.
pub const MAX_FIELD_BYTES: usize = 64;
/// The most values an `in` condition may list.
pub const MAX_IN_VALUES: usize = 100;

/// A document's data: a JSON object.
pub type DocumentData = Map<String, Value>;

/// A document as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Its key in the channel.
    pub key: String,
    /// Its data.
    pub data: DocumentData,
    /// 1 when created, one more at each change.
    pub version: u64,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Who changed it last.
    pub updated_by: String,
}

/// A change of a document: the data of a `doc_changed` event.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentChanged {
    /// The document's key.
    pub key: String,
    /// The data after the change; `None` when the change deleted it.
    pub data: Option<DocumentData>,
    /// The version after the change (a deletion's is one more than the
    /// deleted document's).
    pub version: u64,
    /// When.
    pub updated_at: Timestamp,
    /// By whom.
    pub updated_by: String,
}

impl DocumentChanged {
    /// The kind of the event of a document set, merged, incremented or
    /// deleted.
    pub const KIND: EventKind = EventKind::new("doc_changed");
}

/// What a write does to a document.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentEdit {
    /// Replaces the data (creates the document if it is missing).
    Set(DocumentData),
    /// Applies an RFC 7386 JSON merge patch (a JSON object) to the data,
    /// creating the document from `{}` if it is missing.
    Merge(DocumentData),
    /// Adds `by` to the top-level numeric `field` (missing or null counts
    /// as 0), creating the document if it is missing.
    Increment {
        /// The field.
        field: String,
        /// The amount; integers stay integers while both are.
        by: Number,
    },
    /// Deletes the document.
    Delete,
}

/// The bounds a write must respect, from the namespace's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// The largest document, in bytes of JSON.
    pub max_bytes: usize,
    /// The most documents one channel holds.
    pub max_documents: usize,
}

/// A write of one document.
#[derive(Clone)]
pub struct DocumentWrite {
    /// The app.
    pub app: Arc<str>,
    /// The channel.
    pub channel: ChannelName,
    /// The document's key (1 to [`MAX_KEY_BYTES`] bytes).
    pub key: String,
    /// What to do.
    pub edit: DocumentEdit,
    /// Compare-and-set: the version the document must have now (0: it must
    /// not exist). `None` lets the last committed write win.
    pub if_version: Option<u64>,
    /// The writer (permission is the caller's to check).
    pub by: String,
    /// Size and count limits.
    pub limits: DocumentLimits,
    /// The payload of the `doc_changed` event.
    pub encode: EventEncoder<DocumentChanged>,
}

/// What a committed document write did.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentWritten {
    /// The change, as its event says it.
    pub change: DocumentChanged,
    /// The event.
    pub publication: StoredPublication,
}

/// A top-level field a query names: 1 to [`MAX_FIELD_BYTES`] ASCII
/// letters, digits and `_`. Checked here because the SQL names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentField(String);

impl DocumentField {
    /// The field `name`, or why it cannot be one.
    pub fn new(name: &str) -> Result<Self, StoreError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_FIELD_BYTES
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
        match valid {
            true => Ok(Self(name.to_owned())),
            false => Err(StoreError::InvalidInput(format!(
                "field {name:?}: a field is 1 to {MAX_FIELD_BYTES} ASCII letters, digits or _"
            ))),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON scalar a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (compared as a double).
    Number(f64),
    /// A string (compared byte by byte).
    String(String),
}

/// A value an ordering condition (`lt`, `lte`, `gt`, `gte`) compares with:
/// numbers compare with numbers, strings with strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// A number.
    Number(f64),
    /// A string.
    String(String),
}

/// An ordering comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

/// One condition on a top-level field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The field holds this value.
    Eq(Scalar),
    /// The field is missing or holds another value.
    Ne(Scalar),
    /// The field holds a value of the bound's type that compares so.
    Compare(Comparison, Bound),
    /// The field holds one of these values.
    In(Vec<Scalar>),
    /// The field is present (`true`) or missing (`false`).
    Exists(bool),
}

/// A condition on one field; a query's filters all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field.
    pub field: DocumentField,
    /// The condition.
    pub condition: Condition,
}

/// What a list is ordered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentOrderBy {
    /// The time of the last change.
    UpdatedAt,
    /// A top-level field: documents without a number or a string there
    /// first, then numbers, then strings (ascending).
    Field(DocumentField),
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Where a page ends: the sort key of its last document. Opaque to
/// clients (see [`DocumentCursor::encode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentCursor {
    pub(crate) rank: i64,
    pub(crate) number: f64,
    pub(crate) text: String,
    pub(crate) key: String,
}

impl DocumentCursor {
    /// The cursor as a string for clients: rank, number, and hex of text and
    /// key, dot-separated.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.rank,
            self.number,
            hex::encode(&self.text),
            hex::encode(&self.key)
        )
    }

    /// The cursor a client sent back, or `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let rank = parts.next()?.parse().ok()?;
        // The number itself may hold a dot: it is the parts between the
        // first and the last two.
        let rest: Vec<&str> = parts.collect();
        if rest.len() < 3 {
            return None;
        }
        let (number, hexes) = rest.split_at(rest.len() - 2);
        let number: f64 = number.join(".").parse().ok()?;
        let text = String::from_utf8(hex::decode(hexes[0]).ok()?).ok()?;
        let key = String::from_utf8(hex::decode(hexes[1]).ok()?).ok()?;
        number.is_finite().then_some(Self {
            rank,
            number,
            text,
            key,
        })
    }
}

/// A list of a channel's documents.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentQuery {
    /// Conditions that must all hold.
    pub filters: Vec<Filter>,
    /// The order.
    pub order_by: DocumentOrderBy,
    /// Its direction.
    pub direction: Direction,
    /// At most this many (1 to [`MAX_DOCUMENT_PAGE`]).
    pub limit: usize,
    /// Continue after this cursor.
    pub after: Option<DocumentCursor>,
}

/// A page of documents.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentPage {
    /// The documents, in the query's order.
    pub documents: Vec<Document>,
    /// The cursor of the next page, when there is more.
    pub next: Option<DocumentCursor>,
}

impl Store {
    /// Writes a document and appends its `doc_changed` event. With
    /// `if_version`, a document at another version refuses the write with
    /// [`StoreError::VersionConflict`] carrying the current document.
    pub async fn write_document(
        &self,
        write: DocumentWrite,
    ) -> Result<DocumentWritten, StoreError> {
        if write.key.is_empty() || write.key.len() > MAX_KEY_BYTES {
            return Err(StoreError::InvalidInput(format!(
                "a document key is 1 to {MAX_KEY_BYTES} bytes"
            )));
        }
        self.change(write).await
    }

    /// The document `key` of the channel, if it exists.
    pub async fn document(
        &self,
        app: &str,
        channel: &ChannelName,
        key: &str,
    ) -> Result<Option<Document>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        documents::find(&mut connection, app, channel, key).await
    }

    /// A page of the channel's documents that pass the query's filters, in
    /// its order.
    pub async fn documents(
        &self,
        app: &str,
        channel: &ChannelName,
        query: &DocumentQuery,
    ) -> Result<DocumentPage, StoreError> {
        let limit = query.limit.clamp(1, MAX_DOCUMENT_PAGE);
        let mut connection = self.pool().acquire().await?;
        let mut rows = documents::list(
            &mut connection,
            self.backend(),
            app,
            channel,
            query,
            limit + 1,
        )
        .await?;
        let next = match rows.len() > limit {
            true => {
                rows.truncate(limit);
                rows.last().map(|(_, cursor)| cursor.clone())
            }
            false => None,
        };
        Ok(DocumentPage {
            documents: rows.into_iter().map(|(document, _)| document).collect(),
            next,
        })
    }
}

impl Change for DocumentWrite {
    type Outcome = DocumentWritten;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<DocumentWritten, StoreError> {
        let app = &*self.app;
        let channel = &self.channel;
        // The turn first: it locks the stream row, so the document read
        // next is the one the previous writer of the channel committed, and
        // an increment cannot lose a concurrent one.
        let turn = Turn::take(connection, context, app, channel).await?;
        let current = documents::find(connection, app, channel, &self.key).await?;
        let current_version = current.as_ref().map_or(0, |document| document.version);
        if self
            .if_version
            .is_some_and(|expected| expected != current_version)
        {
            return Err(StoreError::VersionConflict(Box::new(current)));
        }
        let data = edit(current.as_ref().map(|document| &document.data), &self.edit)?;
        // The data as stored: serialized once, for the size check and the row.
        let text = match &data {
            None => {
                if current.is_none() {
                    return Err(StoreError::NotFound("document"));
                }
                documents::delete(connection, app, channel, &self.key).await?;
                None
            }
            Some(data) => {
                // Serializing JSON values cannot fail: no map has non-string
                // keys, no number is not finite.
                let text = serde_json::to_string(data).expect("JSON values serialize");
                let size = text.len();
                if size > self.limits.max_bytes {
                    return Err(StoreError::TooLarge {
                        size,
                        max: self.limits.max_bytes,
                    });
                }
                if current.is_none()
                    && documents::count(connection, app, channel).await?
                        >= self.limits.max_documents
                {
                    return Err(StoreError::Forbidden(
                        "the channel holds as many documents as it may",
                    ));
                }
                Some(text)
            }
        };
        let change = DocumentChanged {
            key: self.key.clone(),
            data,
            version: current_version + 1,
            updated_at: context.now,
            updated_by: self.by.clone(),
        };
        if let Some(text) = &text {
            documents::upsert(connection, app, channel, &change, text).await?;
        }
        let event = Encoded {
            kind: DocumentChanged::KIND,
            value: &change,
            encode: &self.encode,
        };
        let publication = event::append(connection, context, turn, &event).await?;
        Ok(DocumentWritten {
            change,
            publication,
        })
    }

    fn appended(outcome: &DocumentWritten) -> Option<&StoredPublication> {
        Some(&outcome.publication)
    }
}

/// The data after `edit` of `current` (`None` when missing); `None` after
/// a deletion.
fn edit(
    current: Option<&DocumentData>,
    edit: &DocumentEdit,
) -> Result<Option<DocumentData>, StoreError> {
    match edit {
        DocumentEdit::Set(data) => Ok(Some(data.clone())),
        DocumentEdit::Merge(patch) => {
            let mut data = current.cloned().unwrap_or_default();
            merge_object(&mut data, patch);
            Ok(Some(data))
        }
        DocumentEdit::Increment { field, by } => {
            let mut data = current.cloned().unwrap_or_default();
            let sum = match data.get(field) {
                None | Some(Value::Null) => by.clone(),
                Some(Value::Number(value)) => add(value, by).ok_or_else(|| {
                    StoreError::InvalidInput(format!("{field:?} would not be a finite number"))
                })?,
                Some(_) => {
                    return Err(StoreError::InvalidInput(format!(
                        "field {field:?} is not a number"
                    )));
                }
            };
            data.insert(field.clone(), Value::Number(sum));
            Ok(Some(data))
        }
        DocumentEdit::Delete => Ok(None),
    }
}

/// `a + b`: an integer while both are integers and the sum fits, a double
/// otherwise; `None` when the double is not finite.
fn add(a: &Number, b: &Number) -> Option<Number> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64())
        && let Some(sum) = a.checked_add(b)
    {
        return Some(sum.into());
    }
    Number::from_f64(a.as_f64()? + b.as_f64()?)
}

/// RFC 7386 on an object: each member of `patch` that is `null` removes
/// the field, an object merges into the field recursively, anything else
/// replaces it. (Twenty lines, so no crate for it.)
fn merge_object(target: &mut DocumentData, patch: &DocumentData) {
    for (name, value) in patch {
        match value {
            Value::Null => {
                target.remove(name);
            }
            Value::Object(inner) => {
                let field = target
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !field.is_object() {
                    *field = Value::Object(Map::new());
                }
                if let Value::Object(field) = field {
                    merge_object(field, inner);
                }
            }
            other => {
                target.insert(name.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> DocumentData {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn a_merge_patch_follows_rfc_7386() {
        let mut target = object(json!({"a": "b", "c": {"d": "e", "f": "g"}, "n": 1}));
        merge_object(
            &mut target,
            &object(json!({"a": "z", "c": {"f": null}, "n": {"x": 1}})),
        );
        assert_eq!(
            Value::Object(target),
            json!({"a": "z", "c": {"d": "e"}, "n": {"x": 1}})
        );
    }

    #[test]
    fn an_increment_keeps_integers_and_refuses_other_types() {
        let data = object(json!({"n": 41, "s": "x"}));
        let by = |field: &str, by: Number| DocumentEdit::Increment {
            field: field.into(),
            by,
        };
        let after = edit(Some(&data), &by("n", 1.into())).unwrap().unwrap();
        assert_eq!(after["n"], json!(42));
        let after = edit(Some(&data), &by("new", 2.into())).unwrap().unwrap();
        assert_eq!(after["new"], json!(2));
        let half = Number::from_f64(0.5).unwrap();
        let after = edit(Some(&data), &by("n", half)).unwrap().unwrap();
        assert_eq!(after["n"], json!(41.5));
        assert!(edit(Some(&data), &by("s", 1.into())).is_err());
    }

    #[test]
    fn a_cursor_reads_back() {
        let cursor = DocumentCursor {
            rank: 1,
            number: -12.5,
            text: "a.b".into(),
            key: "k.1".into(),
        };
        assert_eq!(DocumentCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(DocumentCursor::decode("nonsense"), None);
    }
}
