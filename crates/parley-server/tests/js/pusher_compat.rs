//! The Pusher compatibility suite: `compat/pusher/suite.mjs` drives the real
//! npm packages `pusher-js` (as a Node client) and `pusher` (the Node server
//! SDK) against a Parley started here, with its webhooks pointed at the
//! receiver the script serves: once on one node, once with its clients on
//! two nodes of a Redis cluster.

use crate::common;

use std::time::Duration;

use common::cluster::{REDIS, unique_prefix};
use common::node::{ensure_node_modules, one_suite_at_a_time, repo_dir, run_suite};
use common::{SECRET, TestServer};
use parley_server::Config;
use parley_server::config::BrokerKind;

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

/// The app options the suite expects: client events, subscription counts,
/// webhooks to the script's receiver on `compat_port`.
fn for_the_suite(config: &mut Config, compat_port: u16) {
    let app = &mut config.apps[0];
    app.pusher.enable_client_messages = true;
    app.pusher.enable_subscription_count = true;
    app.webhooks.urls = vec![format!("http://127.0.0.1:{compat_port}/webhooks")];
    app.webhooks.batch_window = Duration::from_millis(100);
    app.webhooks.hold_back = Duration::from_millis(800);
}

/// Runs the suite against `nodes`: the server SDK talks to the first,
/// pusher-js clients connect to each in turn.
async fn run_the_suite(nodes: &[&TestServer], compat_port: u16) {
    let dir = repo_dir("compat/pusher");
    ensure_node_modules(&dir, &["pusher-js", "pusher"]);
    let app = &nodes[0].state.default_app.config;
    let mut command = tokio::process::Command::new("node");
    command
        .arg("suite.mjs")
        .current_dir(&dir)
        .env("PARLEY_HOST", "127.0.0.1")
        .env("PARLEY_PORT", nodes[0].addr.port().to_string())
        .env("PARLEY_APP_ID", &app.id)
        .env("PARLEY_APP_KEY", &app.key)
        .env("PARLEY_APP_SECRET", SECRET)
        .env("PARLEY_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("COMPAT_PORT", compat_port.to_string());
    if let Some(second) = nodes.get(1) {
        command.env("PARLEY_PORT_B", second.addr.port().to_string());
    }
    let stdout = run_suite(command, "the Pusher compatibility suite", SUITE_TIMEOUT).await;
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_js_and_the_pusher_sdk_work_unchanged() {
    let _turn = one_suite_at_a_time().await;
    let compat_port = free_port();
    let server = TestServer::start_with(|config| for_the_suite(config, compat_port)).await;
    run_the_suite(&[&server], compat_port).await;
    server.stop().await;
}

/// The same suite with its pusher-js clients on two nodes of one Redis
/// deployment: what one client does reaches the other through the cluster
/// (channels, client events, presence, cache, counts, sign-ins,
/// watchlists, terminate), and webhooks come once for the deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_js_works_with_its_clients_on_two_nodes() {
    let _turn = one_suite_at_a_time().await;
    let compat_port = free_port();
    let prefix = unique_prefix();
    let node = || {
        TestServer::start_with(|config| {
            for_the_suite(config, compat_port);
            config.cluster.broker = BrokerKind::Redis;
            config.cluster.prefix = prefix.clone();
            config.cluster.redis_url = REDIS.to_owned();
            config.stream_idle_ttl = Duration::from_secs(60);
            for app in &mut config.apps {
                app.namespaces.retain(|_, namespace| !namespace.persist);
            }
        })
    };
    let a = node().await;
    let b = node().await;
    run_the_suite(&[&a, &b], compat_port).await;
    a.stop().await;
    b.stop().await;
}
