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
use axum::routing::{delete, get, patch, post, put};

pub use error::ApiError;
pub(crate) use extract::{ApiJson, ApiPath, ClientIp};
pub use heartbeat_limits::HeartbeatLimits;

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

/// The routes of the HTTP API.
pub fn router() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/api/v1/publish", post(publish::publish))
        .route("/api/v1/broadcast", post(publish::broadcast))
        .route("/api/v1/batch", post(publish::batch))
        .route("/api/v1/disconnect", post(channels::disconnect))
        .route("/api/v1/channels", get(channels::channels))
        .route("/api/v1/info", get(channels::info))
        .route("/api/v1/presence", get(presence::members))
        .route("/api/v1/presence/stats", get(presence::stats))
        .route("/api/v1/presence/heartbeat", post(presence::heartbeat))
        .route("/api/v1/users/{user}/status", get(presence::user_status))
        .route("/api/v1/history", get(messages::history))
        .route("/api/v1/messages", post(messages::send))
        .route("/api/v1/messages/{id}", delete(messages::delete))
        .route(
            "/api/v1/channels/{channel}/messages",
            get(messages::list).post(messages::post),
        )
        .route("/api/v1/rooms", get(rooms::list).post(rooms::create))
        .route(
            "/api/v1/rooms/{channel}/members",
            get(rooms::members).post(rooms::add_members),
        )
        .route(
            "/api/v1/rooms/{channel}/members/{user}",
            delete(rooms::remove_member),
        )
        .route("/api/v1/users/{user}/unread", get(rooms::unread))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/moderation/mute", post(moderation::mute))
        .route("/api/v1/moderation/unmute", post(moderation::unmute))
        .route("/api/v1/moderation/ban", post(moderation::ban))
        .route("/api/v1/moderation/unban", post(moderation::unban))
        .route(
            "/api/v1/moderation/restrictions",
            get(moderation::restrictions),
        )
        .route("/api/v1/messages/{id}/hide", post(moderation::hide))
        .route("/api/v1/messages/{id}/unhide", post(moderation::unhide))
        .route("/api/v1/reports", get(moderation::list_reports))
        .route(
            "/api/v1/reports/{id}/resolve",
            post(moderation::resolve_report),
        )
        // The upload handler bounds the body itself, while it streams in,
        // at `uploads.max_bytes`.
        .route(
            "/api/v1/uploads",
            post(uploads::create).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/uploads/{id}", get(uploads::file))
        .route("/api/v1/uploads/{id}/thumbnail", get(uploads::thumbnail))
        .route(
            "/api/v1/channels/{channel}/reactions",
            get(reactions::channel_reactions),
        )
        .route(
            "/api/v1/channels/{channel}/reactions/{emoji}",
            put(reactions::add_to_channel).delete(reactions::remove_from_channel),
        )
        .route(
            "/api/v1/messages/{id}/reactions/{emoji}",
            put(reactions::add_to_message).delete(reactions::remove_from_message),
        )
        // The routes that act for a user (`acting.rs` says how).
        .route("/api/v1/messages/{id}", patch(edits::edit))
        .route("/api/v1/messages/{id}/edits", get(edits::trail))
        .route("/api/v1/channels/{channel}/read", post(reads::mark))
        .route(
            "/api/v1/messages/{id}/pin",
            post(pins::pin).delete(pins::unpin),
        )
        .route("/api/v1/channels/{channel}/pins", get(pins::list))
        .route("/api/v1/channels/{channel}/docs", get(documents::list))
        .route(
            "/api/v1/channels/{channel}/docs/{key}",
            get(documents::get)
                .put(documents::set)
                .patch(documents::merge)
                .delete(documents::delete),
        )
        .route("/api/v1/messages/{id}/thread", get(threads::thread))
        .route("/api/v1/users/{user}/blocks", get(blocks::list))
        .route(
            "/api/v1/users/{user}/blocks/{blocked}",
            post(blocks::block).delete(blocks::unblock),
        )
        .route("/api/v1/reports", post(reports::file))
}
