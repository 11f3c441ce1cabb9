//! `GET /app/{key}`: the WebSocket upgrade of the Pusher protocol.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::codes;
use super::push::Event;
use super::session::PusherSession;
use crate::connection;
use crate::http_api::ApiError;
use crate::state::{AppContext, ServerState};

/// The protocol versions served: 7, and 5 and 6, which differ only in
/// details clients of this server do not meet.
const PROTOCOLS: std::ops::RangeInclusive<u32> = 5..=7;

/// Query parameters of the upgrade. `client`, `version` and `flash` only
/// describe the client library.
#[derive(Debug, Deserialize)]
pub struct PusherQuery {
    protocol: Option<String>,
}

/// Upgrades to a Pusher connection. An unknown key or protocol version is
/// answered, as Pusher does, with `pusher:error` and a close code after the
/// upgrade, so that clients see the code.
pub async fn upgrade(
    State(server): State<Arc<ServerState>>,
    Path(key): Path<String>,
    Query(query): Query<PusherQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let app = server
        .apps
        .values()
        .find(|app| !app.config.key.is_empty() && app.config.key == key)
        .cloned();
    if app
        .as_ref()
        .is_some_and(|app| !app.origins.allows(&headers))
    {
        return ApiError::new(StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let refusal = match (&app, query.protocol.as_deref()) {
        (None, _) => Some((
            codes::APP_DOES_NOT_EXIST,
            format!("no app with key {key:?}"),
        )),
        (_, None) => Some((codes::NO_PROTOCOL_VERSION, "no protocol version".to_owned())),
        (_, Some(version)) => match version.parse::<u32>() {
            Ok(version) if PROTOCOLS.contains(&version) => None,
            _ => Some((
                codes::UNSUPPORTED_PROTOCOL,
                format!("unsupported protocol version {version:?}"),
            )),
        },
    };
    if server.shutdown.is_cancelled() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down")
            .into_response();
    }
    let config = &server.config;
    let ws = crate::ws::configure(ws, config);
    if let Some((code, message)) = refusal {
        return ws.on_upgrade(move |socket| refuse(socket, code, message));
    }
    let app: Arc<AppContext> = app.expect("a missing app is refused above");
    let tracked = server.connections.token();
    match server.node.admit() {
        Err(_) => ws.on_upgrade(move |socket| async move {
            refuse(socket, codes::OVER_CAPACITY, "over capacity".to_owned()).await;
            drop(tracked);
        }),
        Ok(slot) => ws.on_upgrade(move |socket| async move {
            let client = server.node.new_client(&app.app, &server.encoders.pusher);
            let session = PusherSession::start(server.clone(), app, client);
            let limits = crate::ws::limits(&server.config);
            connection::serve(socket, session, limits, server.shutdown.clone()).await;
            drop(slot);
            drop(tracked);
        }),
    }
}

/// Sends `pusher:error` and closes with the same code.
async fn refuse(mut socket: WebSocket, code: u16, message: String) {
    #[derive(serde::Serialize)]
    struct ErrorData<'a> {
        code: u16,
        message: &'a str,
    }
    let error = Event {
        event: "pusher:error",
        channel: None,
        data: &ErrorData {
            code,
            message: &message,
        },
        user_id: None,
    }
    .frame();
    if let Ok(text) = Utf8Bytes::try_from(error.into_bytes()) {
        let _ = socket.send(Message::Text(text)).await;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(message),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
