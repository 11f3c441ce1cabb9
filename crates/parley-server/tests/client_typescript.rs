//! The TypeScript SDK's suite: `clients/typescript` is type-checked and built
//! with `tsc` (`npm run build`), then its Node tests (`npm test`, node:test)
//! drive `@parley/client` against a Parley started here: over the real wire
//! from Node, and from a page in Debian's Chromium through playwright-core.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{API_KEY, SECRET, TestServer};

/// The whole suite's time limit; each of its waits has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// The browser the suite drives: Debian's package (`apt-get install chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/typescript")
}

/// Runs `npm <args>` in `dir` and fails the test with its output when it fails.
fn npm(dir: &Path, args: &[&str]) {
    let output = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("npm runs (install Node.js and npm)");
    assert!(
        output.status.success(),
        "npm {} failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_works_over_the_wire_in_node_and_in_chromium() {
    let dir = client_dir();
    if !dir.join("node_modules").is_dir() {
        npm(&dir, &["ci", "--no-audit", "--no-fund"]);
    }
    // A type error in the SDK fails here.
    npm(&dir, &["run", "build"]);
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    );
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
        .env("PARLEY_CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("npm runs (install Node.js 20+)");
    let output = tokio::time::timeout(SUITE_TIMEOUT, child.wait_with_output())
        .await
        .expect("the SDK suite finishes in time")
        .expect("the SDK suite ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the TypeScript SDK suite failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!("{stdout}");
    server.stop().await;
}
