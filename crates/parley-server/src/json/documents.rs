//! The JSON of live documents, shared by the native protocol and the HTTP
//! API: a document, the `doc_changed` event's payload, a list, a live
//! query's change, and the parsing of a query's `where` and `order`.
//!
//! A query reads, in JSON:
//!
//! ```text
//! where: {"completion": {"lt": 90}, "kind": "movie", "device": {"in": ["tv", "phone"]}}
//! order: "updated_at:desc" | "completion" | "title:asc"
//! ```
//!
//! Each member of `where` names a top-level field; its value is a scalar
//! (equality) or an object of operators (`eq`, `ne`, `lt`, `lte`, `gt`,
//! `gte`, `in`, `exists`), all of which must hold. `order` is `updated_at`
//! (the time of the last change) or a top-level field, then `:asc` or
//! `:desc` (ascending when left out).

use bytes::Bytes;
use parley_store::{
    Bound, Comparison, Condition, Direction, Document, DocumentChanged, DocumentCursor,
    DocumentField, DocumentOrderBy, DocumentPage, DocumentQuery, Filter, MAX_DOCUMENT_PAGE,
    MAX_IN_VALUES, Scalar,
};
use serde_json::{Map, Value, json};

/// The list limit when a caller names none.
pub const DEFAULT_LIMIT: usize = 20;

/// `{"key","data","version","updated_at","updated_by"}`.
pub fn document_value(document: &Document) -> Value {
    json!({
        "key": document.key,
        "data": document.data,
        "version": document.version,
        "updated_at": document.updated_at.as_millis(),
        "updated_by": document.updated_by,
    })
}

/// `{"key","data"|null,"version","updated_at","updated_by"}`: a change.
pub fn changed_value(change: &DocumentChanged) -> Value {
    json!({
        "key": change.key,
        "data": change.data,
        "version": change.version,
        "updated_at": change.updated_at.as_millis(),
        "updated_by": change.updated_by,
    })
}

/// The payload of `doc_changed`: the change.
pub fn changed_data(change: &DocumentChanged) -> Bytes {
    Bytes::from(changed_value(change).to_string())
}

/// `{"version","data"|null}`: a document as a conflict reports it (version
/// 0 and `null` when it does not exist).
pub fn current_value(current: Option<&Document>) -> Value {
    match current {
        Some(document) => json!({"version": document.version, "data": document.data}),
        None => json!({"version": 0, "data": null}),
    }
}

/// `{"documents": [...], "next": "cursor"}`.
pub fn page_value(page: &DocumentPage) -> Value {
    let mut value = json!({
        "documents": page.documents.iter().map(document_value).collect::<Vec<_>>(),
    });
    if let Some(next) = &page.next {
        value["next"] = Value::String(next.encode());
    }
    value
}

/// A query from its JSON parts; the error says which part, and which field,
/// is wrong.
pub fn parse_query(
    filters: Option<&Value>,
    order: Option<&str>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<DocumentQuery, String> {
    let filters = match filters {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(fields)) => parse_where(fields)?,
        Some(_) => return Err("where must be an object of fields".into()),
    };
    let (order_by, direction) = parse_order(order.unwrap_or("updated_at:desc"))?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_DOCUMENT_PAGE {
        return Err(format!("limit must be 1 to {MAX_DOCUMENT_PAGE}"));
    }
    let after = match cursor {
        None => None,
        Some(cursor) => Some(
            DocumentCursor::decode(cursor)
                .ok_or_else(|| format!("cursor {cursor:?} is not one this server gave"))?,
        ),
    };
    Ok(DocumentQuery {
        filters,
        order_by,
        direction,
        limit,
        after,
    })
}

fn parse_order(order: &str) -> Result<(DocumentOrderBy, Direction), String> {
    let (name, direction) = match order.rsplit_once(':') {
        Some((name, "asc")) => (name, Direction::Asc),
        Some((name, "desc")) => (name, Direction::Desc),
        Some((_, other)) => {
            return Err(format!(
                "order {order:?}: the direction is asc or desc, not {other:?}"
            ));
        }
        None => (order, Direction::Asc),
    };
    let order_by = match name {
        "updated_at" => DocumentOrderBy::UpdatedAt,
        name => DocumentOrderBy::Field(
            DocumentField::new(name).map_err(|error| format!("order: {error}"))?,
        ),
    };
    Ok((order_by, direction))
}

fn parse_where(fields: &Map<String, Value>) -> Result<Vec<Filter>, String> {
    let mut filters = Vec::new();
    for (name, spec) in fields {
        let field = DocumentField::new(name).map_err(|error| format!("where: {error}"))?;
        let bad = |why: String| format!("where field {name:?}: {why}");
        match spec {
            Value::Object(operators) => {
                if operators.is_empty() {
                    return Err(bad("no operator".into()));
                }
                for (operator, value) in operators {
                    let condition = parse_condition(operator, value).map_err(bad)?;
                    filters.push(Filter {
                        field: field.clone(),
                        condition,
                    });
                }
            }
            value => filters.push(Filter {
                field,
                condition: Condition::Eq(scalar(value).map_err(bad)?),
            }),
        }
    }
    Ok(filters)
}

fn parse_condition(operator: &str, value: &Value) -> Result<Condition, String> {
    let compare = |comparison| bound(value).map(|bound| Condition::Compare(comparison, bound));
    match operator {
        "eq" => Ok(Condition::Eq(scalar(value)?)),
        "ne" => Ok(Condition::Ne(scalar(value)?)),
        "lt" => compare(Comparison::Lt),
        "lte" => compare(Comparison::Lte),
        "gt" => compare(Comparison::Gt),
        "gte" => compare(Comparison::Gte),
        "in" => match value {
            Value::Array(values) if values.len() <= MAX_IN_VALUES => Ok(Condition::In(
                values.iter().map(scalar).collect::<Result<_, _>>()?,
            )),
            _ => Err(format!(
                "in takes an array of at most {MAX_IN_VALUES} values"
            )),
        },
        "exists" => match value {
            Value::Bool(exists) => Ok(Condition::Exists(*exists)),
            _ => Err("exists takes true or false".into()),
        },
        other => Err(format!(
            "unknown operator {other:?} (eq, ne, lt, lte, gt, gte, in, exists)"
        )),
    }
}

fn scalar(value: &Value) -> Result<Scalar, String> {
    match value {
        Value::Null => Ok(Scalar::Null),
        Value::Bool(value) => Ok(Scalar::Bool(*value)),
        Value::Number(number) => number
            .as_f64()
            .map(Scalar::Number)
            .ok_or_else(|| "a number out of range".to_owned()),
        Value::String(text) => Ok(Scalar::String(text.clone())),
        _ => Err("compares with a string, a number, a boolean or null".into()),
    }
}

fn bound(value: &Value) -> Result<Bound, String> {
    match scalar(value)? {
        Scalar::Number(number) => Ok(Bound::Number(number)),
        Scalar::String(text) => Ok(Bound::String(text)),
        _ => Err("lt, lte, gt and gte compare with a number or a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_where_names_its_field() {
        let error = parse_query(
            Some(&json!({"completion": {"lower": 90}})),
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(error.contains("\"completion\""), "{error}");
        let error = parse_query(Some(&json!({"bad field": 1})), None, None, None).unwrap_err();
        assert!(error.contains("\"bad field\""), "{error}");
        let error = parse_query(Some(&json!({"n": {"lt": true}})), None, None, None).unwrap_err();
        assert!(error.contains("\"n\""), "{error}");
    }

    #[test]
    fn a_query_reads_its_parts() {
        let query = parse_query(
            Some(&json!({"completion": {"lt": 90, "gte": 0}, "kind": "movie"})),
            Some("title:desc"),
            Some(5),
            None,
        )
        .unwrap();
        assert_eq!(query.filters.len(), 3);
        assert_eq!(query.direction, Direction::Desc);
        assert_eq!(query.limit, 5);
        assert!(parse_query(None, Some("title:up"), None, None).is_err());
        assert!(parse_query(None, None, Some(0), None).is_err());
    }
}
