//! Live documents over HTTP: the forms of the native `doc_get`, `doc_set`,
//! `doc_merge`, `doc_delete` and `doc_list`, with an API key (the backend,
//! as `system` or as the user `?user=` names) or a user's token (as that
//! user). Compare-and-set is `If-Match: "<version>"` (412 with the current
//! version and data when it does not match); responses carry the version
//! as `ETag`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::ChannelName;
use parley_store::{DocumentData, DocumentEdit, DocumentWritten};
use serde::Deserialize;
use serde_json::{Value, json};

use super::acting::{acting_user_or_system, channel};
use super::extract::{ApiJson, Caller};
use super::{ApiError, ApiPath};
use crate::chat::{Actor, Chat};
use crate::documents::{self, WriteRequest};
use crate::json::documents as documents_json;

/// `?user=`: a backend's, the user to act for.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    user: Option<String>,
}

/// `?where=<JSON>&order=&limit=&cursor=&user=` of a list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Conditions on top-level fields, as JSON:
    /// `{"completion": {"lt": 90}, "kind": "movie"}`.
    #[serde(rename = "where")]
    filters: Option<String>,
    /// `updated_at` or a top-level field, then `:asc` or `:desc`.
    order: Option<String>,
    /// 1 to 100; 20 by default.
    limit: Option<usize>,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// A backend's: the user to act for.
    user: Option<String>,
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

/// The caller's actor and the channel, once it may read the channel's
/// documents.
async fn reader(
    chat: &Chat,
    caller: &Caller,
    user: Option<&str>,
    name: &str,
) -> Result<(Actor, ChannelName), ApiError> {
    let actor = acting_user_or_system(caller, user)?;
    let channel = channel(name)?;
    // A backend acting for a user answers for the namespace's rules itself
    // (it issues the channel tokens), as if that user were subscribed.
    let vouched = matches!(caller, Caller::Backend(_));
    documents::check_read(chat, caller.app(), &channel, &actor, vouched).await?;
    Ok((actor, channel))
}

fn with_etag(status: StatusCode, body: Value, version: u64) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `If-Match: "<version>"` (quotes optional), or nothing.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|value| value.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|version| version.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "If-Match is a document version, as its ETag gives it",
            )
        })
}

async fn write(
    chat: &Chat,
    caller: &Caller,
    user: Option<&str>,
    (name, key): (String, String),
    edit: DocumentEdit,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let if_version = if_match(headers)?;
    let actor = acting_user_or_system(caller, user)?;
    let channel = channel(&name)?;
    let vouched = matches!(caller, Caller::Backend(_));
    let written = documents::write(
        chat,
        caller.app(),
        &channel,
        &actor,
        vouched,
        WriteRequest {
            key,
            edit,
            if_version,
        },
    )
    .await?;
    Ok(written_response(&written))
}

fn written_response(written: &DocumentWritten) -> Response {
    let mut body = documents_json::changed_value(&written.change);
    body["offset"] = json!(written.publication.position.offset);
    body["epoch"] = json!(written.publication.position.epoch);
    with_etag(StatusCode::OK, body, written.change.version)
}

/// `GET /api/v1/channels/{channel}/docs/{key}?user=`: the document, with
/// its version as `ETag`; 404 when it does not exist.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/docs/{key}",
    tag = "documents",
    params(("channel" = String, Path), ("key" = String, Path), UserQuery),
    responses((status = 200, description = "The document; its version is the ETag.", body = crate::json::schema::DocumentShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn get(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath((name, key)): ApiPath<(String, String)>,
    user: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let user = query(user)?;
    let (_, channel) = reader(&chat, &caller, user.user.as_deref(), &name).await?;
    match documents::get(&chat, caller.app(), &channel, &key).await? {
        Some(document) => Ok(with_etag(
            StatusCode::OK,
            documents_json::document_value(&document),
            document.version,
        )),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such document")),
    }
}

/// `PUT /api/v1/channels/{channel}/docs/{key}?user=`: replaces the
/// document with the body (a JSON object); subscribers get `doc_changed`.
#[utoipa::path(
    put,
    path = "/api/v1/channels/{channel}/docs/{key}",
    tag = "documents",
    params(("channel" = String, Path), ("key" = String, Path), UserQuery,
           ("If-Match" = Option<String>, Header, description = "Compare-and-set: the version the document must have (\"0\": missing); 412 otherwise.")),
    request_body(content = serde_json::Value, description = "The document's new data, a JSON object."),
    responses((status = 200, description = "The change.", body = crate::json::schema::DocumentChangeShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn set(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(path): ApiPath<(String, String)>,
    user: Result<Query<UserQuery>, QueryRejection>,
    headers: HeaderMap,
    ApiJson(data): ApiJson<DocumentData>,
) -> Result<Response, ApiError> {
    let user = query(user)?;
    let edit = DocumentEdit::Set(data);
    write(&chat, &caller, user.user.as_deref(), path, edit, &headers).await
}

/// `PATCH /api/v1/channels/{channel}/docs/{key}?user=`: applies the body,
/// an RFC 7386 merge patch (a JSON object), to the document.
#[utoipa::path(
    patch,
    path = "/api/v1/channels/{channel}/docs/{key}",
    tag = "documents",
    params(("channel" = String, Path), ("key" = String, Path), UserQuery,
           ("If-Match" = Option<String>, Header, description = "Compare-and-set, as for PUT.")),
    request_body(content = serde_json::Value, description = "An RFC 7386 merge patch, a JSON object."),
    responses((status = 200, description = "The change.", body = crate::json::schema::DocumentChangeShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn merge(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(path): ApiPath<(String, String)>,
    user: Result<Query<UserQuery>, QueryRejection>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<DocumentData>,
) -> Result<Response, ApiError> {
    let user = query(user)?;
    let edit = DocumentEdit::Merge(patch);
    write(&chat, &caller, user.user.as_deref(), path, edit, &headers).await
}

/// `DELETE /api/v1/channels/{channel}/docs/{key}?user=`: deletes the
/// document; 404 when it does not exist.
#[utoipa::path(
    delete,
    path = "/api/v1/channels/{channel}/docs/{key}",
    tag = "documents",
    params(("channel" = String, Path), ("key" = String, Path), UserQuery,
           ("If-Match" = Option<String>, Header, description = "Compare-and-set, as for PUT.")),
    responses((status = 200, description = "The change, with data null.", body = crate::json::schema::DocumentChangeShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn delete(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(path): ApiPath<(String, String)>,
    user: Result<Query<UserQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = query(user)?;
    let edit = DocumentEdit::Delete;
    write(&chat, &caller, user.user.as_deref(), path, edit, &headers).await
}

/// `GET /api/v1/channels/{channel}/docs?where=&order=&limit=&cursor=&user=`:
/// a page of the channel's documents, `where` as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/docs",
    tag = "documents",
    params(("channel" = String, Path), ListQuery),
    responses((status = 200, description = "A page of the channel's documents.", body = crate::json::schema::DocumentPageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn list(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    list: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let list = query(list)?;
    let (_, channel) = reader(&chat, &caller, list.user.as_deref(), &name).await?;
    let filters = match &list.filters {
        None => None,
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("where is not JSON: {error}"),
            )
        })?),
    };
    let document_query = documents_json::parse_query(
        filters.as_ref(),
        list.order.as_deref(),
        list.limit,
        list.cursor.as_deref(),
    )
    .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?;
    let page = documents::list(&chat, caller.app(), &channel, &document_query).await?;
    Ok((
        StatusCode::OK,
        axum::Json(documents_json::page_value(&page)),
    )
        .into_response())
}
