//! Rooms over the server API (API key): create rooms, add and remove
//! members, list members and a user's rooms, and a user's unread counts.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::ChannelName;
use parley_store::MembersAction;
use serde::Deserialize;

use super::extract::{ApiApp, ApiJson};
use super::{ApiError, ApiPath};
use crate::chat::{Chat, reads, rooms};
use crate::json;

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn channel(name: &str) -> Result<ChannelName, ApiError> {
    Ok(ChannelName::new(name).map_err(parley_core::Error::from)?)
}

fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

/// `POST /api/v1/rooms {kind, namespace | channel, members, moderators?,
/// owner?}`: 201 with the new room, or 200 with the direct room the pair
/// has already.
#[utoipa::path(
    post,
    path = "/api/v1/rooms",
    tag = "rooms",
    request_body = rooms::CreateRequest,
    responses((status = 201, description = "The room, created.", body = crate::json::schema::RoomCreatedShape), (status = 200, description = "The room, which existed.", body = crate::json::schema::RoomCreatedShape)),
    security(("api_key" = [])),
)]
pub async fn create(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiJson(body): ApiJson<rooms::CreateRequest>,
) -> Result<Response, ApiError> {
    let created = rooms::create(&chat, &app, None, body).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, json::rooms::created_json(&created)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    members: Vec<String>,
    role: Option<String>,
}

/// `POST /api/v1/rooms/{channel}/members {members, role?}`.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{channel}/members",
    tag = "rooms",
    params(("channel" = String, Path)), request_body = AddBody,
    responses((status = 200, description = "The members added.", body = crate::json::schema::RoomMembersChangedShape)),
    security(("api_key" = [])),
)]
pub async fn add_members(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AddBody>,
) -> Result<Response, ApiError> {
    let channel = channel(&name)?;
    let changed = rooms::change_members(
        &chat,
        &app,
        None,
        &channel,
        body.members,
        body.role.as_deref(),
        MembersAction::Add,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        json::rooms::changed_json(&changed),
    ))
}

/// `DELETE /api/v1/rooms/{channel}/members/{user}`.
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{channel}/members/{user}",
    tag = "rooms",
    params(("channel" = String, Path), ("user" = String, Path)),
    responses((status = 200, description = "The member removed.", body = crate::json::schema::RoomMembersChangedShape)),
    security(("api_key" = [])),
)]
pub async fn remove_member(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath((name, user)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let channel = channel(&name)?;
    let changed = rooms::change_members(
        &chat,
        &app,
        None,
        &channel,
        vec![user],
        None,
        MembersAction::Remove,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        json::rooms::changed_json(&changed),
    ))
}

/// `GET /api/v1/rooms/{channel}/members`: `{"members": [...]}`.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{channel}/members",
    tag = "rooms",
    params(("channel" = String, Path)),
    responses((status = 200, description = "The room's members.", body = crate::json::schema::RoomMembersShape)),
    security(("api_key" = [])),
)]
pub async fn members(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let channel = channel(&name)?;
    let members = rooms::members(&chat, &app, &channel)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such room"))?;
    Ok(json_response(
        StatusCode::OK,
        json::rooms::members_json(&members),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RoomsQuery {
    user: String,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/rooms?user=&cursor=&limit=`: a user's rooms.
#[utoipa::path(
    get,
    path = "/api/v1/rooms",
    tag = "rooms",
    params(RoomsQuery),
    responses((status = 200, description = "A page of the user's rooms.", body = crate::json::schema::RoomPageShape)),
    security(("api_key" = [])),
)]
pub async fn list(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    params: Result<Query<RoomsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let page = rooms::rooms(
        &chat,
        &app,
        &params.user,
        params.cursor.as_deref(),
        params.limit,
    )
    .await?;
    Ok(json_response(StatusCode::OK, json::rooms::page_json(&page)))
}

/// `GET /api/v1/users/{user}/unread`: a user's unread counts.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user}/unread",
    tag = "rooms",
    params(("user" = String, Path)),
    responses((status = 200, description = "The user's unread counts.", body = crate::json::schema::UnreadShape)),
    security(("api_key" = [])),
)]
pub async fn unread(
    State(chat): State<Chat>,
    ApiApp(app): ApiApp,
    ApiPath(user): ApiPath<String>,
) -> Result<Response, ApiError> {
    let counts = reads::unread(&chat, &app, &user).await?;
    Ok(json_response(
        StatusCode::OK,
        json::reads::unread_json(&counts),
    ))
}
