//! The Pusher compatibility suite: `compat/pusher/suite.mjs` drives the real
//! npm packages `pusher-js` (as a Node client) and `pusher` (the Node server
//! SDK) against a Parley started here, with its webhooks pointed at the
//! receiver the script serves.

use crate::common;

use std::time::Duration;

use common::node::{ensure_node_modules, one_suite_at_a_time, repo_dir, run_suite};
use common::{SECRET, TestServer};

/// The whole suite's time limit; each of its steps has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(240);

/// A base64 master key of 32 bytes for `private-encrypted-` channels (the
/// SDK encrypts with it; Parley never sees it).
const ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

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
    let _turn = one_suite_at_a_time().await;
    let dir = repo_dir("compat/pusher");
    ensure_node_modules(&dir, &["pusher-js", "pusher"]);
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
        .env("COMPAT_PORT", compat_port.to_string());
    let stdout = run_suite(command, "the Pusher compatibility suite", SUITE_TIMEOUT).await;
    println!("{stdout}");
    server.stop().await;
}
