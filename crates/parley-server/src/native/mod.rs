//! Parley's native protocol v1: JSON text frames over WebSocket at `/ws`.
//!
//! - [`codes`]: error codes and close codes.
//! - [`wire`]: the envelope of commands and replies.
//! - [`method`]: the methods, parsed once from a command's name.
//! - [`push`]: the frames the server pushes unasked.
//! - [`session`]: one connection's state machine and its commands.
//! - [`presence`]: the presence, typing and status commands.
//! - [`chat`]: chat messages, history, and recovery on subscribe.
//! - [`replay`]: a recovery's replay, paged into the client's queue.
//! - [`rooms`]: rooms and members, read markers, pins, threads, search.
//! - [`reactions`]: reactions to messages and channels.
//!
//! `docs/protocol.md` is the user-facing description of all of it.

pub mod chat;
pub mod codes;
pub mod documents;
pub mod method;
pub mod moderation;
pub mod presence;
pub mod push;
pub mod reactions;
mod replay;
pub mod rooms;
pub mod session;
pub mod wire;

pub use push::NativeEncoder;
pub use session::NativeSession;
