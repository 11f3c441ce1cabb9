//! The server HTTP API under `/api/v1`, authenticated per app with
//! `Authorization: Bearer <api key>`. `docs/http-api.md` describes it.

mod acting;
mod blocks;
mod channels;
mod documents;
mod edits;
mod error;
mod extract;
mod heartbeat_limits;
mod messages;
mod moderation;
mod openapi;
mod pins;
mod presence;
mod publish;
mod reactions;
mod reads;
mod reports;
mod rooms;
mod search;
mod threads;
mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

pub use error::ApiError;
pub(crate) use extract::{ApiJson, ApiPath, ClientIp};
pub use heartbeat_limits::HeartbeatLimits;
pub use openapi::{ApiDoc, ApiRoutes};

use crate::state::ServerState;

/// Every method the API's routes answer, which a browser's CORS preflight is
/// told it may use. A route with a new method adds it here, or browsers
/// cannot call it from another origin.
pub const METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The request headers a browser may send cross-origin: the key or token,
/// the JSON body's type, and a precondition on an edit.
pub const REQUEST_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
];

/// The response headers beyond the CORS-safelisted ones that browser code
/// may read: when to retry after a 429.
pub const RESPONSE_HEADERS: [HeaderName; 1] = [header::RETRY_AFTER];

/// The routes of the HTTP API, served and described together.
pub fn router() -> Router<Arc<ServerState>> {
    routes().split().0
}

/// Every route of `/api/v1` with its description, one path per `path`
/// (`openapi.rs` says why).
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .path(routes!(openapi::document))
        .path(routes!(publish::publish))
        .path(routes!(publish::broadcast))
        .path(routes!(publish::batch))
        .path(routes!(channels::disconnect))
        .path(routes!(channels::channels))
        .path(routes!(channels::info))
        .path(routes!(presence::members))
        .path(routes!(presence::stats))
        .path(routes!(presence::heartbeat))
        .path(routes!(presence::user_status))
        .path(routes!(messages::history))
        .path(routes!(messages::send))
        .path(routes!(messages::delete, edits::edit))
        .path(routes!(messages::list, messages::post))
        .path(routes!(rooms::list, rooms::create))
        .path(routes!(rooms::members, rooms::add_members))
        .path(routes!(rooms::remove_member))
        .path(routes!(rooms::unread))
        .path(routes!(search::search))
        .path(routes!(moderation::mute))
        .path(routes!(moderation::unmute))
        .path(routes!(moderation::ban))
        .path(routes!(moderation::unban))
        .path(routes!(moderation::restrictions))
        .path(routes!(moderation::hide))
        .path(routes!(moderation::unhide))
        .path(routes!(moderation::list_reports, reports::file))
        .path(routes!(moderation::resolve_report))
        // The upload handler bounds the body itself, while it streams in,
        // at `uploads.max_bytes`.
        .path(routes!(uploads::create).layer(DefaultBodyLimit::disable()))
        .path(routes!(uploads::list))
        .path(routes!(uploads::file, uploads::remove))
        .path(routes!(uploads::thumbnail))
        .path(routes!(reactions::channel_reactions))
        .path(routes!(
            reactions::add_to_channel,
            reactions::remove_from_channel
        ))
        .path(routes!(
            reactions::add_to_message,
            reactions::remove_from_message
        ))
        // The routes that act for a user (`acting.rs` says how).
        .path(routes!(edits::trail))
        .path(routes!(reads::mark))
        .path(routes!(pins::pin, pins::unpin))
        .path(routes!(pins::list))
        .path(routes!(documents::list))
        .path(routes!(
            documents::get,
            documents::set,
            documents::merge,
            documents::delete
        ))
        .path(routes!(threads::thread))
        .path(routes!(blocks::list))
        .path(routes!(blocks::block, blocks::unblock))
}
