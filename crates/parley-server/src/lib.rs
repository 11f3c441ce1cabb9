//! The Parley server: the WebSocket transport, the native wire protocol, the
//! HTTP API, configuration and the `parley` binary's commands.
//!
//! - [`config`] and [`credentials`]: what the server runs with.
//! - [`server`]: builds the node and serves HTTP until shutdown.
//! - [`ws`] and [`connection`]: the WebSocket upgrade and the task that
//!   serves one connection for any [`connection::Session`].
//! - [`native`]: the native protocol (envelope, codes, session).
//! - [`pusher`]: Pusher Channels protocol 7 at `/app/{key}`; [`encoder`]
//!   registers both protocols' encoders with the node.
//! - [`http_api`]: the server API under `/api/v1`.
//! - [`auth`]: JWT verification and minting.
//! - [`chat`]: durable chat messages in persisted namespaces. Every
//!   publisher publishes through `Node::publish`, which picks the channel's
//!   stream (the store's or the broker's) from its namespace.
//! - [`cluster`]: control actions that reach every node, and the node
//!   registry (with `broker = "redis"`).
//! - [`uploads`]: uploaded files: sniffing, image processing, storage.
//! - [`origin`], [`health`], [`telemetry`]: browsers, probes, logs, metrics.
//! - [`web`]: the embedded admin UI, demo app and SDK, and demo tokens.
//!
//! Only this crate knows JSON, HTTP and WebSocket; the domain lives in
//! `parley-core`.

pub mod auth;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod committed;
pub mod config;
pub mod connection;
pub mod credentials;
pub mod documents;
pub mod encoder;
pub mod health;
pub mod http_api;
pub mod json;
pub mod listener;
pub mod native;
pub mod origin;
pub mod pusher;
pub mod rate_clock;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod uploads;
pub mod web;
pub mod webhooks;
pub mod ws;

pub use config::Config;
pub use server::{Server, ServerError};
