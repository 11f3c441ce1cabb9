//! Parley's native protocol v1: JSON text frames over WebSocket at `/ws`.
//!
//! - [`codes`]: error codes and close codes.
//! - [`wire`]: the envelope of commands, replies and pushes.
//! - [`session`]: one connection's state machine and its commands.
//!
//! `docs/protocol.md` is the user-facing description of all of it.

pub mod codes;
pub mod session;
pub mod wire;

pub use session::NativeSession;
pub use wire::NativeEncoder;
