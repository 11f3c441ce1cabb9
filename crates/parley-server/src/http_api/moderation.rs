//! Moderation over HTTP: mutes and bans under `/api/v1/moderation`, and the
//! report queue under `/api/v1/reports`. A backend calls with its API key
//! (acting as `system`, a moderator); a moderator may call with their JWT.

use parley_store::Visibility;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::ChannelName;
use parley_store::{ReportId, RestrictionKind};
use serde::Deserialize;

use super::extract::ApiJson;
use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::moderation::{self, RestrictRequest};
use crate::chat::reports::{self, Resolution};
use crate::chat::{Actor, Chat};
use crate::json;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictBody {
    user: String,
    channel: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftBody {
    user: String,
    channel: Option<String>,
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RestrictionsQuery {
    user: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    status: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    action: String,
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The moderator acting: `system` for an API key, else the token's user.
fn actor(caller: &Caller) -> Actor {
    match caller {
        Caller::Backend(_) => Actor {
            user: Arc::from("system"),
            profile: Default::default(),
            moderator: true,
            limited: false,
        },
        Caller::User { actor, .. } => actor.clone(),
    }
}

fn channel(name: Option<&str>) -> Result<Option<ChannelName>, ApiError> {
    Ok(name
        .map(ChannelName::new)
        .transpose()
        .map_err(parley_core::Error::from)?)
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

async fn restrict(
    chat: &Chat,
    caller: &Caller,
    kind: RestrictionKind,
    body: RestrictBody,
) -> Result<Response, ApiError> {
    let kind = shadowed(kind, body.shadow)?;
    let request = RestrictRequest {
        user: body.user,
        channel: channel(body.channel.as_deref())?,
        duration: body
            .duration
            .as_deref()
            .map(moderation::parse_duration)
            .transpose()?,
    };
    let restricted =
        moderation::restrict(chat, caller.app(), &actor(caller), kind, request).await?;
    let mut body = json::moderation::restriction_json(&restricted.restriction);
    // A ban in a cluster says whether the other nodes enforce it too.
    if let Some(other_nodes) = restricted.other_nodes.as_field()
        && body.pop() == Some('}')
    {
        body.push_str(&format!(r#","other_nodes":"{other_nodes}"}}"#));
    }
    Ok(json_response(StatusCode::OK, body))
}

async fn lift(
    chat: &Chat,
    caller: &Caller,
    kind: RestrictionKind,
    body: LiftBody,
) -> Result<Response, ApiError> {
    let kind = shadowed(kind, body.shadow)?;
    let channel = channel(body.channel.as_deref())?;
    let lifted = moderation::lift(
        chat,
        caller.app(),
        &actor(caller),
        kind,
        &body.user,
        channel.as_ref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        format!(r#"{{"lifted":{lifted}}}"#),
    ))
}

/// `POST /api/v1/moderation/mute {user, channel?, duration?}`.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/mute",
    tag = "moderation",
    request_body = RestrictBody,
    responses((status = 200, description = "The mute in force.", body = crate::json::schema::RestrictionShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn mute(
    State(chat): State<Chat>,
    caller: Caller,
    ApiJson(body): ApiJson<RestrictBody>,
) -> Result<Response, ApiError> {
    restrict(&chat, &caller, RestrictionKind::Mute, body).await
}

/// `POST /api/v1/moderation/unmute {user, channel?}`.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/unmute",
    tag = "moderation",
    request_body = LiftBody,
    responses((status = 200, description = "Whether a mute was lifted.", body = crate::json::schema::LiftedShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn unmute(
    State(chat): State<Chat>,
    caller: Caller,
    ApiJson(body): ApiJson<LiftBody>,
) -> Result<Response, ApiError> {
    lift(&chat, &caller, RestrictionKind::Mute, body).await
}

/// `POST /api/v1/moderation/ban {user, channel?, duration?}`.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/ban",
    tag = "moderation",
    request_body = RestrictBody,
    responses((status = 200, description = "The ban in force.", body = crate::json::schema::RestrictionShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn ban(
    State(chat): State<Chat>,
    caller: Caller,
    ApiJson(body): ApiJson<RestrictBody>,
) -> Result<Response, ApiError> {
    restrict(&chat, &caller, RestrictionKind::Ban, body).await
}

/// `POST /api/v1/moderation/unban {user, channel?}`.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/unban",
    tag = "moderation",
    request_body = LiftBody,
    responses((status = 200, description = "Whether a ban was lifted.", body = crate::json::schema::LiftedShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn unban(
    State(chat): State<Chat>,
    caller: Caller,
    ApiJson(body): ApiJson<LiftBody>,
) -> Result<Response, ApiError> {
    lift(&chat, &caller, RestrictionKind::Ban, body).await
}

/// `GET /api/v1/moderation/restrictions?user=`: the mutes and bans in force.
#[utoipa::path(
    get,
    path = "/api/v1/moderation/restrictions",
    tag = "moderation",
    params(RestrictionsQuery),
    responses((status = 200, description = "The mutes and bans in force.", body = crate::json::schema::RestrictionsShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn restrictions(
    State(chat): State<Chat>,
    caller: Caller,
    params: Result<Query<RestrictionsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let restrictions =
        moderation::restrictions(&chat, caller.app(), &actor(&caller), params.user.as_deref())
            .await?;
    Ok(json_response(
        StatusCode::OK,
        format!(
            r#"{{"restrictions":{}}}"#,
            json::moderation::restrictions_json(&restrictions)
        ),
    ))
}

/// `GET /api/v1/reports?status=open|resolved|all&before=&limit=`.
#[utoipa::path(
    get,
    path = "/api/v1/reports",
    tag = "moderation",
    params(ReportsQuery),
    responses((status = 200, description = "A page of reports.", body = crate::json::schema::ReportPageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn list_reports(
    State(chat): State<Chat>,
    caller: Caller,
    params: Result<Query<ReportsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    moderation::require_moderator(&chat, caller.app(), None, &actor(&caller)).await?;
    let before = params.before.as_deref().map(report_id).transpose()?;
    let page = reports::list(
        &chat,
        caller.app(),
        params.status.as_deref(),
        before,
        params.limit,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::report_page_json(&page.reports, page.has_more),
    ))
}

/// `POST /api/v1/reports/{id}/resolve {action: "dismiss"|"delete"}`.
#[utoipa::path(
    post,
    path = "/api/v1/reports/{id}/resolve",
    tag = "moderation",
    params(("id" = String, Path, example = "1")), request_body = ResolveBody,
    responses((status = 200, description = "The report, resolved.", body = crate::json::schema::ReportShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn resolve_report(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Response, ApiError> {
    let id = report_id(&id)?;
    let resolution = Resolution::parse(&body.action)?;
    let report = reports::resolve(&chat, caller.app(), &actor(&caller), id, resolution).await?;
    Ok(json_response(
        StatusCode::OK,
        json::moderation::report_json(&report),
    ))
}

/// A mute becomes a shadow mute with `shadow: true`; bans have no shadow.
fn shadowed(kind: RestrictionKind, shadow: bool) -> Result<RestrictionKind, ApiError> {
    match (kind, shadow) {
        (_, false) => Ok(kind),
        (RestrictionKind::Mute, true) => Ok(RestrictionKind::ShadowMute),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "only a mute can be a shadow mute",
        )),
    }
}

/// `POST /api/v1/messages/{id}/hide`: shown to moderators only from now.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/hide",
    tag = "moderation",
    params(("id" = String, Path, example = "1")),
    responses((status = 200, description = "The message, hidden, as moderators see it.", body = crate::json::schema::MessageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn hide(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    set_hidden(&chat, &caller, &id, Visibility::Hidden).await
}

/// `POST /api/v1/messages/{id}/unhide`: shown to everyone again.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/unhide",
    tag = "moderation",
    params(("id" = String, Path, example = "1")),
    responses((status = 200, description = "The message, shown again.", body = crate::json::schema::MessageShape)),
    security(("api_key" = []), ("user_token" = [])),
)]
pub async fn unhide(
    State(chat): State<Chat>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    set_hidden(&chat, &caller, &id, Visibility::Shown).await
}

async fn set_hidden(
    chat: &Chat,
    caller: &Caller,
    id: &str,
    visibility: Visibility,
) -> Result<Response, ApiError> {
    let message = moderation::hide(chat, caller.app(), &actor(caller), id, visibility).await?;
    Ok(json_response(
        StatusCode::OK,
        crate::json::message_json_revealed(&message),
    ))
}

fn report_id(text: &str) -> Result<ReportId, ApiError> {
    text.parse::<ReportId>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{text:?} is not a report id"),
            )
        })
}
