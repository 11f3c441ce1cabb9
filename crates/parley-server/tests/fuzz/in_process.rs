//! A Parley server's real router, called in process: the HTTP targets send
//! thousands of requests a second through it without a socket.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use parley_server::Server;
use serde_json::Value;
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tower::ServiceExt;

use super::common::test_config;

/// The router of a server over the tests' configuration, on SQLite in a
/// temporary directory.
pub struct InProcess {
    runtime: Runtime,
    router: Router,
    // Kept for the store and uploads, which live in the directory.
    _server: Server,
    _dir: TempDir,
}

/// What the server answered.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl InProcess {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = runtime
            .block_on(Server::new(test_config(dir.path())))
            .expect("the server starts");
        let router = server.router();
        Self {
            runtime,
            router,
            _server: server,
            _dir: dir,
        }
    }

    /// Sends `request` as `Server::run` would hand it over (with the peer's
    /// address) and reads the whole answer.
    pub fn call(&self, mut request: Request<Body>) -> Answer {
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        request.extensions_mut().insert(ConnectInfo(peer));
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let content_type = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body reads");
            Answer {
                status,
                content_type,
                body,
            }
        })
    }
}

impl Answer {
    /// No 5xx, and a 4xx carries the API's JSON error with its status.
    pub fn assert_clear(&self, what: &str) {
        let body = String::from_utf8_lossy(&self.body);
        assert!(
            !self.status.is_server_error(),
            "{what}: {} {body}",
            self.status
        );
        if self.status.is_client_error() {
            assert_eq!(
                self.content_type.as_deref(),
                Some("application/json"),
                "{what}: {} {body}",
                self.status
            );
            let error: Value = serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| panic!("{what}: {} is not JSON: {body}", self.status));
            assert_eq!(
                error["error"]["code"],
                self.status.as_u16(),
                "{what}: {body}"
            );
            assert!(error["error"]["message"].is_string(), "{what}: {body}");
        }
    }
}
