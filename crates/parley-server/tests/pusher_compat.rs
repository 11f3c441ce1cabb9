//! The Pusher compatibility suite: `compat/pusher/suite.mjs` drives the real
//! npm packages `pusher-js` (as a Node client) and `pusher` (the Node server
//! SDK) against a Parley started here, with its webhooks pointed at the
//! receiver the script serves.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{SECRET, TestServer};

/// The whole suite's time limit; each of its steps has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(240);

/// A base64 master key of 32 bytes for `private-encrypted-` channels (the
/// SDK encrypts with it; Parley never sees it).
const ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn compat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../compat/pusher")
}

/// Installs the suite's npm packages from its lock file when they are
/// missing.
fn ensure_node_modules(dir: &std::path::Path) {
    if dir.join("node_modules").is_dir() {
        return;
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("npm runs (install Node.js and npm)");
    assert!(
        output.status.success(),
        "npm ci failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port free right now, for the script's auth endpoints and webhook
/// receiver (Parley's webhook URL must name it before the script starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_js_and_the_pusher_sdk_work_unchanged() {
    let dir = compat_dir();
    ensure_node_modules(&dir);
    let compat_port = free_port();
    let server = TestServer::start_with(|config| {
        let app = &mut config.apps[0];
        app.pusher.enable_client_messages = true;
        app.pusher.enable_subscription_count = true;
        app.webhooks.urls = vec![format!("http://127.0.0.1:{compat_port}/webhooks")];
        app.webhooks.batch_window = Duration::from_millis(100);
        app.webhooks.hold_back = Duration::from_millis(800);
    })
    .await;
    let app = &server.state.default_app.config;
    let mut command = tokio::process::Command::new("node");
    command
        .arg("suite.mjs")
        .current_dir(&dir)
        .env("PARLEY_HOST", "127.0.0.1")
        .env("PARLEY_PORT", server.addr.port().to_string())
        .env("PARLEY_APP_ID", &app.id)
        .env("PARLEY_APP_KEY", &app.key)
        .env("PARLEY_APP_SECRET", SECRET)
        .env("PARLEY_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("COMPAT_PORT", compat_port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("node runs (install Node.js 18+)");
    let output = tokio::time::timeout(SUITE_TIMEOUT, child.wait_with_output())
        .await
        .expect("the compatibility suite finishes in time")
        .expect("the compatibility suite ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Pusher compatibility suite failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!("{stdout}");
    server.stop().await;
}
