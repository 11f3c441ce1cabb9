//! Fuzz targets, one per parser of input from the network: the native
//! frame, the Pusher frame, the Pusher HTTP API's signed request, the HTTP
//! API's JSON bodies and the upload's multipart body. Each asserts what a client would see for bad input (a
//! protocol error code, a 4xx with a JSON error), not merely "no panic".
//!
//! Under `cargo test` each target runs its corpus (`__fuzz__/<target>/corpus`)
//! and then random inputs for [`TEST_TIME`], on stable Rust. With nightly,
//! `cargo bolero test` runs the same targets coverage-guided under
//! libFuzzer; `docs/testing.md` says how, and how to add a target.

#[path = "../common/mod.rs"]
mod common;
mod http_json;
mod in_process;
mod multipart;
mod native_frame;
mod pusher_frame;
mod seeds;
mod signed_request;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long each target runs random inputs under `cargo test`, so that CI
/// stays about as long as before; `BOLERO_RANDOM_TEST_TIME_MS` or
/// `BOLERO_RANDOM_ITERATIONS` run it longer.
pub const TEST_TIME: Duration = Duration::from_secs(3);

/// The inputs a target checked, printed when it ends (`--nocapture` shows
/// it): the figures of a longer run.
pub struct Runs {
    target: &'static str,
    inputs: AtomicU64,
}

impl Runs {
    pub fn new(target: &'static str) -> Self {
        Self {
            target,
            inputs: AtomicU64::new(0),
        }
    }

    pub fn count(&self) {
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        println!("{}: {} inputs", self.target, self.inputs.get_mut());
    }
}
