//! The client packages' suites against a Parley started here.
//!
//! - `clients/typescript` (`@parley/client`) is type-checked and built with
//!   `tsc` (`npm run build`), then its Node tests (`npm test`, node:test)
//!   drive it over the real wire from Node, and from a page in Debian's
//!   Chromium through playwright-core.
//! - `clients/react` (`@parley/react`) is built the same way, then its
//!   suite bundles a page of components on every hook against React 18 and
//!   React 19 (esbuild) and checks in Chromium what they show while other
//!   users act through the SDK in Node and the HTTP API.

use crate::common;

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use common::node::{
    CHROMIUM, assert_chromium, ensure_node_modules, npm, one_suite_at_a_time, repo_dir, run_suite,
};
use common::{API_KEY, SECRET, TestServer};

/// A suite's time limit; each of its waits has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// `@parley/client` is built once per run, before either suite loads its
/// `dist/` (the React package uses it through a `file:` dependency), so no
/// build rewrites it while a suite reads it.
static SDK_BUILT: Once = Once::new();

fn build_sdk() {
    SDK_BUILT.call_once(|| {
        let dir = repo_dir("clients/typescript");
        ensure_node_modules(&dir, &["typescript", "ws", "playwright-core", "esbuild"]);
        // A type error in the SDK fails here.
        npm(&dir, &["run", "build"]);
    });
}

/// A server for the suites: short token grace and liveness timings (the
/// refresh and liveness tests watch them within their waits) and every
/// origin allowed (the browser pages are served from another local port).
async fn suite_server() -> TestServer {
    TestServer::start_with(|config| {
        config.token_grace = Duration::from_secs(1);
        config.ping_interval = Duration::from_secs(2);
        config.pong_timeout = Duration::from_secs(2);
        config.apps[0].allowed_origins = vec!["*".to_owned()];
        // Live documents: each user's watch progress (`documents.test.mjs`).
        config.apps[0].namespaces.insert(
            "progress".to_owned(),
            parley_server::config::NamespaceConfig {
                persist: true,
                documents: true,
                document_rate: Some("1000/s".parse().expect("a valid rate")),
                ..Default::default()
            },
        );
    })
    .await
}

/// Runs `npm test` in `dir` against `server` and prints what it said.
async fn run_npm_test(dir: &Path, server: &TestServer, suite: &str) {
    let app = &server.state.default_app.config;
    let mut command = tokio::process::Command::new("npm");
    command
        .args(["test", "--silent"])
        .current_dir(dir)
        .env("PARLEY_URL", format!("http://{}", server.addr))
        .env("PARLEY_APP_ID", &app.id)
        .env("PARLEY_APP_SECRET", SECRET)
        .env("PARLEY_API_KEY", API_KEY)
        .env("PARLEY_CHROMIUM", CHROMIUM);
    let stdout = run_suite(command, suite, SUITE_TIMEOUT).await;
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_works_over_the_wire_in_node_and_in_chromium() {
    let _turn = one_suite_at_a_time().await;
    build_sdk();
    assert_chromium();
    let server = suite_server().await;
    run_npm_test(
        &repo_dir("clients/typescript"),
        &server,
        "the TypeScript SDK suite",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_react_hooks_work_in_chromium_on_react_18_and_19() {
    let _turn = one_suite_at_a_time().await;
    build_sdk();
    assert_chromium();
    let dir = repo_dir("clients/react");
    ensure_node_modules(
        &dir,
        &[
            "react18",
            "react19",
            "react-dom18",
            "react-dom19",
            "esbuild",
            "typescript",
        ],
    );
    npm(&dir, &["run", "build"]);
    let server = suite_server().await;
    run_npm_test(&dir, &server, "the React hooks suite").await;
    server.stop().await;
}
