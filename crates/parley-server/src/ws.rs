//! `GET /ws`: the WebSocket upgrade of the native protocol.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::Disconnect;
use serde::Deserialize;

use crate::config::Config;
use crate::connection::{self, Limits};
use crate::http_api::ApiError;
use crate::native::{NativeSession, codes, wire};
use crate::state::ServerState;

/// The read buffer of each connection, allocated when it opens.
const READ_BUFFER_BYTES: usize = 512;
/// The size past which a connection's buffered frames are written.
const WRITE_BUFFER_BYTES: usize = 4 * 1024;

/// Query parameters of the upgrade.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The app to join; the default app when absent.
    app: Option<String>,
}

/// Upgrades to a native-protocol connection, after checking the app, the
/// origin and the node's connection limit.
pub async fn upgrade(
    State(server): State<Arc<ServerState>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let app = match &query.app {
        None => server.default_app.clone(),
        Some(id) => match server.app(id) {
            Some(app) => app.clone(),
            None => {
                return ApiError::new(StatusCode::NOT_FOUND, format!("unknown app {id:?}"))
                    .into_response();
            }
        },
    };
    if !app.origins.allows(&headers) {
        return ApiError::new(StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    if server.shutdown.is_cancelled() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down")
            .into_response();
    }
    let ws = configure(ws, &server.config);
    // Tracked from the handler on, so shutdown waits for upgrades in flight.
    let tracked = server.connections.token();
    match server.node.admit() {
        Err(_) => ws.on_upgrade(move |socket| async move {
            refuse(socket, Disconnect::NodeFull).await;
            drop(tracked);
        }),
        Ok(slot) => ws.on_upgrade(move |socket| async move {
            let client = server.node.new_client(&app.app, &server.encoders.native);
            let session = NativeSession::new(server.clone(), app, client);
            let limits = limits(&server.config);
            connection::serve(socket, session, limits, server.shutdown.clone()).await;
            drop(slot);
            drop(tracked);
        }),
    }
}

/// The socket settings every WebSocket gets, whatever its protocol.
pub fn configure(ws: WebSocketUpgrade, config: &Config) -> WebSocketUpgrade {
    ws
        // tungstenite allocates the read buffer up front for every
        // connection and zero-fills its free part before each read attempt
        // (one per wake-up of the connection task); commands are small, and
        // a larger frame grows it as needed.
        .read_buffer_size(READ_BUFFER_BYTES)
        // Frames collect in the write buffer until it passes this size, then
        // go out; a batch bigger than it takes one write per this many
        // bytes. The buffer keeps the capacity its biggest batch needed, for
        // every connection, so it is kept small.
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(config.max_queue_bytes.max(64 * 1024))
        // Frames up to twice the limit are read whole and answered with an
        // error; beyond that the connection is closed.
        .max_message_size(config.max_frame_bytes * 2)
        .max_frame_size(config.max_frame_bytes * 2)
}

/// The connection task's limits from the configuration.
pub fn limits(config: &Config) -> Limits {
    Limits {
        ping_interval: config.ping_interval,
        pong_timeout: config.pong_timeout,
        write_timeout: config.write_timeout,
        max_frame_bytes: config.max_frame_bytes,
    }
}

/// Closes a connection the node cannot take.
async fn refuse(mut socket: WebSocket, reason: Disconnect) {
    let goodbye = wire::disconnect_frame(reason).into_bytes();
    if let Ok(text) = Utf8Bytes::try_from(goodbye) {
        let _ = socket.send(Message::Text(text)).await;
    }
    let frame = CloseFrame {
        code: codes::close_code(reason),
        reason: Utf8Bytes::from_static(reason.reason()),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
