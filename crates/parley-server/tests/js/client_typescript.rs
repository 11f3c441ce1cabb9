//! The TypeScript SDK's suite: `clients/typescript` is type-checked and built
//! with `tsc` (`npm run build`), then its Node tests (`npm test`, node:test)
//! drive `@parley/client` against a Parley started here: over the real wire
//! from Node, and from a page in Debian's Chromium through playwright-core.

use crate::common;

use std::time::Duration;

use common::node::{
    CHROMIUM, assert_chromium, ensure_node_modules, npm, one_suite_at_a_time, repo_dir, run_suite,
};
use common::{API_KEY, SECRET, TestServer};

/// The whole suite's time limit; each of its waits has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_works_over_the_wire_in_node_and_in_chromium() {
    let _turn = one_suite_at_a_time().await;
    let dir = repo_dir("clients/typescript");
    ensure_node_modules(&dir, &["typescript", "ws", "playwright-core"]);
    // A type error in the SDK fails here.
    npm(&dir, &["run", "build"]);
    assert_chromium();
    let server = TestServer::start_with(|config| {
        // Short enough that a connection whose token is not refreshed is
        // closed while the refresh test watches it.
        config.token_grace = Duration::from_secs(1);
        // Short enough that the SDK's liveness check gives up on a silent
        // connection within a test's wait.
        config.ping_interval = Duration::from_secs(2);
        config.pong_timeout = Duration::from_secs(2);
        // The browser test's page is served from another local port.
        config.apps[0].allowed_origins = vec!["*".to_owned()];
    })
    .await;
    let app = &server.state.default_app.config;
    let mut command = tokio::process::Command::new("npm");
    command
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("PARLEY_URL", format!("http://{}", server.addr))
        .env("PARLEY_APP_ID", &app.id)
        .env("PARLEY_APP_SECRET", SECRET)
        .env("PARLEY_API_KEY", API_KEY)
        .env("PARLEY_CHROMIUM", CHROMIUM);
    let stdout = run_suite(command, "the TypeScript SDK suite", SUITE_TIMEOUT).await;
    println!("{stdout}");
    server.stop().await;
}
