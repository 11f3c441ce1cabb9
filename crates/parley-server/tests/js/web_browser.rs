//! The demo chat and the admin UI in a real browser, and the freshness of
//! the SDK copy they load. `tests/web/browser.test.mjs` drives Debian's
//! Chromium through playwright-core (the TypeScript SDK's dev dependency,
//! so `clients/typescript`'s `npm ci` installs it) against a Parley started
//! here with the demo on.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::node::{
    CHROMIUM, assert_chromium, ensure_node_modules, one_suite_at_a_time, repo_dir, run_suite,
};
use common::{API_KEY, TestServer};

/// The browser suite's time limit; each of its waits has its own, shorter one.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn client_dir() -> PathBuf {
    repo_dir("clients/typescript")
}

/// Installs the SDK's dev dependencies (TypeScript, playwright-core) when
/// they are missing.
fn install_client_dependencies() {
    ensure_node_modules(&client_dir(), &["typescript", "playwright-core"]);
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("a readable directory") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.insert(
                    relative.to_string_lossy().replace('\\', "/"),
                    std::fs::read(&path).expect("a readable file"),
                );
            }
        }
    }
    found
}

/// The demo loads the SDK from `crates/parley-server/web/sdk`, a committed
/// copy of `tsc`'s output. This fails when the SDK's sources changed and
/// the copy was not refreshed (`cd clients/typescript && npm run build:web`).
#[test]
fn the_committed_sdk_copy_is_a_fresh_build_of_the_sdk() {
    install_client_dependencies();
    let out = tempfile::tempdir().expect("a temporary directory");
    let dir = client_dir();
    let output = Command::new(dir.join("node_modules/.bin/tsc"))
        .args([
            "-p",
            "tsconfig.json",
            "--declaration",
            "false",
            "--declarationMap",
            "false",
        ])
        .args(["--sourceMap", "false", "--outDir"])
        .arg(out.path())
        .current_dir(&dir)
        .output()
        .expect("tsc runs");
    assert!(
        output.status.success(),
        "tsc failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let fresh = files(out.path());
    let committed = files(&manifest_dir().join("web/sdk"));
    assert!(!fresh.is_empty(), "tsc wrote nothing");
    let names = |files: &BTreeMap<String, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&fresh),
        "crates/parley-server/web/sdk lists other files than a fresh build: \
         run `npm run build:web` in clients/typescript and commit the result"
    );
    for (name, bytes) in &fresh {
        assert!(
            committed[name] == *bytes,
            "crates/parley-server/web/sdk/{name} differs from a fresh build: \
             run `npm run build:web` in clients/typescript and commit the result"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_and_the_admin_ui_work_in_chromium() {
    let _turn = one_suite_at_a_time().await;
    install_client_dependencies();
    assert_chromium();
    let server = TestServer::start_with(|config| {
        config.enable_demo();
        // Short, so a page whose network failed notices within a wait.
        config.ping_interval = Duration::from_secs(2);
        config.pong_timeout = Duration::from_secs(2);
    })
    .await;
    let mut command = tokio::process::Command::new("node");
    command
        .args(["--test", "--test-reporter=spec"])
        .arg(manifest_dir().join("tests/web/browser.test.mjs"))
        .env("PARLEY_URL", format!("http://{}", server.addr))
        .env("PARLEY_API_KEY", API_KEY)
        .env("PARLEY_CHROMIUM", CHROMIUM)
        .env("PARLEY_PLAYWRIGHT_FROM", client_dir().join("package.json"));
    let stdout = run_suite(command, "the browser suite", SUITE_TIMEOUT).await;
    println!("{stdout}");
    server.stop().await;
}
