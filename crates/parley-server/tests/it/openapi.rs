//! The OpenAPI document of `/api/v1`, over the wire: it is served without a
//! key, it describes every route the server serves, and the server serves
//! every operation it describes.
//!
//! A route of `/api/v1` can only be added to the router with its
//! description (`http_api::ApiRoutes::path` takes utoipa-axum's `routes!`
//! of annotated handlers); what is left to check is that each described
//! operation is really served, that no other method is served on a
//! described path, and that no route of `/api/v1` is added beside
//! `ApiRoutes` (a bare axum `.route("/api/v1/...")` anywhere in the
//! server's source).

use crate::common;

use std::path::Path;

use common::{API_KEY, TestServer};
use reqwest::Method;
use serde_json::Value;

/// The methods a route of the API may answer; HEAD is GET's.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(server: &TestServer) -> Value {
    let response = reqwest::get(server.url("/api/v1/openapi.json"))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    response.json().await.expect("the document is JSON")
}

/// A path of the document with every `{parameter}` filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("parameters are closed") + start;
        out.push('x');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether the router has a route for the request: the router's own 404
/// and 405 have no body, every handler's errors are the API's JSON.
async fn routed(server: &TestServer, method: &str, path: &str) -> (bool, u16, String) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
    let response = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    let routed = match status {
        405 => false,
        404 => body.contains("\"error\""),
        _ => true,
    };
    (routed, status, body)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_both_security_schemes_and_the_error_body() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["user_token"]["bearerFormat"], "JWT");
    assert!(doc["components"]["schemas"]["Error"].is_object());
    let publish = &doc["paths"]["/api/v1/publish"]["post"];
    assert_eq!(publish["security"][0]["api_key"], Value::Array(vec![]));
    assert!(publish["requestBody"]["content"]["application/json"].is_object());
    assert!(publish["responses"]["default"].is_object(), "{publish}");
    server.stop().await;
}

#[tokio::test]
async fn every_described_operation_is_served_and_no_other_method_on_its_path() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 40, "only {} paths described", paths.len());
    let mut wrong = Vec::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path} is not under /api/v1");
        let url = concrete(path);
        for method in METHODS {
            let described = item.get(method).is_some();
            let (routed, status, body) = routed(&server, method, &url).await;
            if described != routed {
                wrong.push(format!(
                    "{method} {path}: described {described}, answered {status} {body}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    server.stop().await;
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_route_of_the_api_is_added_without_its_description() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let bare = ["route(", "route_service(", "nest(", "nest_service("];
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a source file");
        let squeezed: String = text.split_whitespace().collect();
        for call in bare {
            if squeezed.contains(&format!(".{call}\"/api")) {
                found.push(format!("{}: .{call}\"/api...", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "routes of /api added beside http_api::ApiRoutes, so not described in openapi.json: {found:?}"
    );
}
