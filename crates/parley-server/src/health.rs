//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::ServerState;
use crate::telemetry;

/// The routes for probes and scrapes.
pub fn router() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

/// Ready until shutdown starts.
async fn ready(State(server): State<Arc<ServerState>>) -> impl IntoResponse {
    if server.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

async fn metrics(State(server): State<Arc<ServerState>>) -> impl IntoResponse {
    telemetry::record_gauges(&server.node, server.presence.as_deref());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        server.metrics.render(),
    )
}
