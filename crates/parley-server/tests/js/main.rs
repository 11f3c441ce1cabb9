//! The suites written in JavaScript, each run by Node.js against a server
//! started here: the Pusher compatibility suite (the real `pusher-js` and
//! `pusher` packages), the TypeScript SDK's suite, and the demo chat and
//! admin UI in Debian's Chromium.
//!
//! A binary of their own, apart from `it/`: they need Node.js, npm and
//! Chromium, each runs for minutes, and they take turns
//! ([`common::node::one_suite_at_a_time`]): two Chromium suites at once on
//! a small CI machine overrun their time limits, and the Pusher suite
//! hands its script a port it found free, which no other test of the
//! process may take meanwhile.

#[path = "../common/mod.rs"]
mod common;

mod client_typescript;
mod pusher_compat;
mod web_browser;
