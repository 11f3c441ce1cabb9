//! The HTTP API's OpenAPI 3.1 document, served at `GET
//! /api/v1/openapi.json`.
//!
//! The document and the router are built from the same annotations: every
//! route of `/api/v1` is added through [`ApiRoutes::path`], which takes only
//! handlers annotated with `#[utoipa::path]` (utoipa-axum's `routes!`), so
//! a route cannot be served without being described, and the path it is
//! served at is the path its description names. `tests/it/openapi.rs`
//! checks the other direction over the wire: every described operation is
//! served. Pusher's `/apps/{app_id}` API is Pusher's contract, not ours,
//! and is left out.

use std::sync::{Arc, LazyLock};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::state::ServerState;

/// The security scheme of a backend's API key (`Authorization: Bearer
/// <api key>`).
pub const API_KEY: &str = "api_key";

/// The security scheme of a user's connection token (`Authorization:
/// Bearer <jwt>`), for the routes a user may call.
pub const USER_TOKEN: &str = "user_token";

/// The document's fixed parts: its title, the security schemes, the error
/// body. The paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley HTTP API",
        description = "The server API of Parley under /api/v1. docs/http-api.md says more; \
                       Pusher's HTTP API (/apps/{app_id}/...) is Pusher's contract and is \
                       not described here.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The body of every error: `{"error": {"code", "message",
/// "retry_after_ms"?}}` (`ApiError`).
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    code: u16,
    /// For people, not for parsing.
    message: String,
    /// With 429 (and 423 for a timed mute): how long to wait, also sent as
    /// `Retry-After` in whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    /// With 412 from a document route's `If-Match`: the document's current
    /// `version` and `data` (version 0 and null data when it is missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<serde_json::Value>,
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An app's API key (`[[apps]] api_keys`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            USER_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A user's connection token, signed with the app's JWT secret; \
                         `?app=` names the app when it is not the default one.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes of `/api/v1` with their descriptions. A route is added only
/// with its description: there is deliberately no way to add a bare axum
/// route here.
pub struct ApiRoutes(OpenApiRouter<Arc<ServerState>>);

impl ApiRoutes {
    /// No routes yet, and the document's fixed parts.
    pub fn new() -> Self {
        Self(OpenApiRouter::with_openapi(ApiDoc::openapi()))
    }

    /// Adds the handlers of one path, collected by `routes!`.
    ///
    /// # Panics
    ///
    /// When `routes` holds more than one path: utoipa-axum would serve
    /// every handler's method on every path of the group, which the
    /// description would not show. This happens at start-up, and in every
    /// test.
    pub fn path(self, routes: UtoipaMethodRouter<Arc<ServerState>>) -> Self {
        assert_eq!(
            routes.1.paths.len(),
            1,
            "one path per ApiRoutes::path: {:?}",
            routes.1.paths.keys().collect::<Vec<_>>()
        );
        Self(self.0.routes(routes))
    }

    /// The router and the finished document.
    pub fn split(self) -> (axum::Router<Arc<ServerState>>, Document) {
        let (router, mut doc) = self.0.split_for_parts();
        describe_errors(&mut doc);
        (router, doc)
    }
}

impl Default for ApiRoutes {
    fn default() -> Self {
        Self::new()
    }
}

/// Every operation may fail with the API's error body: each gets a
/// `default` response for it, besides the statuses its annotation names.
fn describe_errors(doc: &mut Document) {
    let error = ResponseBuilder::new()
        .description("An error, in the API's error format.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| error.clone().into());
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let (_, doc) = super::routes().split();
    doc.to_json()
        .expect("the OpenAPI document is plain data and serializes")
});

/// `GET /api/v1/openapi.json`: this document. No key is needed.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of /api/v1.", content_type = "application/json")),
    security(()),
)]
pub async fn document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}
