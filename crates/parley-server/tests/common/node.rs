//! Node.js suites against a test server: `npm` in one of the repository's
//! packages, and a suite's process run to its end within a time limit,
//! with everything it printed shown when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The browser the suites drive: Debian's package (`apt-get install
/// chromium`; `.ci/run` installs it). No suite ever downloads one.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// `npm ci` runs once at a time: tests of one binary may share a package.
static NPM: Mutex<()> = Mutex::new(());

/// The suites of one binary run one at a time (see [`one_suite_at_a_time`]).
static SUITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for the other suites of this binary to finish and holds them off
/// until the guard is dropped: each suite drives Node.js (and most of them
/// Chromium) for minutes, two at once overrun their time limits on a small
/// machine, and a suite may hand its script a port it found free, which no
/// other test may take meanwhile.
pub async fn one_suite_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    SUITES.lock().await
}

/// A folder of the repository, from its path relative to the root.
pub fn repo_dir(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Runs `npm <args>` in `dir` and fails the test with its output when it
/// fails.
pub fn npm(dir: &Path, args: &[&str]) {
    let output = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("npm runs (install Node.js and npm)");
    assert!(
        output.status.success(),
        "npm {} in {} failed:\n{}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Installs the package's dependencies from its lock file (`npm ci`) unless
/// every one of `packages` is already in its `node_modules`.
pub fn ensure_node_modules(dir: &Path, packages: &[&str]) {
    let _guard = NPM.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let modules = dir.join("node_modules");
    if modules.is_dir()
        && packages
            .iter()
            .all(|package| modules.join(package).is_dir())
    {
        return;
    }
    npm(dir, &["ci", "--no-audit", "--no-fund"]);
}

/// Fails the test unless Debian's Chromium is installed.
pub fn assert_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    );
}

/// Runs `command` to its end within `limit` and returns what it printed on
/// standard output; fails the test, naming `suite` and showing both of its
/// outputs, when it exits with an error or overruns.
pub async fn run_suite(
    mut command: tokio::process::Command,
    suite: &str,
    limit: Duration,
) -> String {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("{suite} could not start (install Node.js 20+): {error}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{suite} did not finish within {limit:?}"))
        .unwrap_or_else(|error| panic!("{suite} did not run: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{suite} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}
