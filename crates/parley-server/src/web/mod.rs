//! The web pages the server serves from its own binary: the admin UI at
//! `/admin`, the demo chat at `/demo` (with the TypeScript SDK's compiled
//! modules at `/sdk/` and guest tokens at `POST /demo/token`), and the
//! styles and helpers both share at `/assets/`. `[web]` turns each on or
//! off; a page that is off answers 404.

pub mod assets;
mod demo_token;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use demo_token::{DemoTokenLimits, GUEST_TOKEN_TTL};

use crate::config::WebConfig;
use crate::http_api::ApiError;
use crate::state::ServerState;

/// The web routes. The demo token limiter lives in the router, as the
/// routes are the only ones that use it.
pub fn router(config: &WebConfig) -> Router<Arc<ServerState>> {
    Router::new()
        .route("/admin", get(admin_index))
        .route("/admin/", get(admin_index))
        .route("/admin/{*file}", get(admin_file))
        .route("/demo", get(demo_index))
        .route("/demo/", get(demo_index))
        .route("/demo/token", post(demo_token::mint))
        .route("/demo/{*file}", get(demo_file))
        .route("/sdk/{*file}", get(sdk_file))
        .route("/assets/{*file}", get(shared_file))
        .layer(axum::Extension(Arc::new(DemoTokenLimits::new(
            config.demo_tokens_per_ip,
        ))))
}

/// Which part of the pages a request is for.
#[derive(Clone, Copy)]
enum Section {
    Admin,
    Demo,
    /// `/assets/`: served while either the admin UI or the demo is on.
    Shared,
}

impl Section {
    fn is_on(self, web: &WebConfig) -> bool {
        match self {
            Section::Admin => web.admin,
            Section::Demo => web.demo,
            Section::Shared => web.admin || web.demo,
        }
    }

    /// The 404 of a section that is turned off.
    fn off(self) -> ApiError {
        let message = match self {
            Section::Admin => "the admin UI is off ([web] admin = false)",
            Section::Demo => {
                "the demo is off: start the server with `parley serve --demo` or set [web] demo = true"
            }
            Section::Shared => "the web pages are off ([web] admin and demo are false)",
        };
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

/// Serves `path` (under `web/`) of `section`, or the section's 404.
fn serve(server: &ServerState, section: Section, path: &str, request: &HeaderMap) -> Response {
    if !section.is_on(&server.config.web) {
        return section.off().into_response();
    }
    assets::respond(path, request)
        .unwrap_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such page").into_response())
}

async fn admin_index(State(server): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    serve(&server, Section::Admin, "/admin/index.html", &headers)
}

async fn admin_file(
    State(server): State<Arc<ServerState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&server, Section::Admin, &format!("/admin/{file}"), &headers)
}

async fn demo_index(State(server): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    serve(&server, Section::Demo, "/demo/index.html", &headers)
}

async fn demo_file(
    State(server): State<Arc<ServerState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&server, Section::Demo, &format!("/demo/{file}"), &headers)
}

async fn sdk_file(
    State(server): State<Arc<ServerState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&server, Section::Demo, &format!("/sdk/{file}"), &headers)
}

async fn shared_file(
    State(server): State<Arc<ServerState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(
        &server,
        Section::Shared,
        &format!("/assets/{file}"),
        &headers,
    )
}
