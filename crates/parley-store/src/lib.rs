//! Parley's durable store: channel streams, their publications, and chat
//! messages, on SQLite (the default, one file in the data directory) or
//! PostgreSQL (shared by several nodes).
//!
//! - [`Store`] is the handle: open it with [`StoreOptions`] and a
//!   [`MessageEventEncoder`]; every operation is scoped by app id.
//! - **Streams.** Each (app, channel) has a durable stream: an epoch, chosen
//!   at random when the stream is created and kept across restarts, and a
//!   last offset. Every event appends one [`StoredPublication`] with the
//!   next offset, in the same transaction as the change it records, so a
//!   channel's offsets are gapless and increase in commit order. Clients
//!   that reconnect recover with [`Store::publications_after`]; pages of the
//!   stream come from [`Store::history`]; retention is [`Store::trim`]. The
//!   store is the core's [`DurableStreams`](parley_core::DurableStreams)
//!   (`durable_streams.rs`): the node publishes to, recovers and pages
//!   persisted namespaces' streams through it.
//! - **Events.** Every durable change (a publication, a message sent,
//!   edited or deleted, a reaction, a read marker, a pin, a member change)
//!   is one typed event that knows its kind ([`Message::CREATED`],
//!   [`Pin::PINNED`], …) and its data, appended by one function in the same
//!   transaction as the projection rows it updates (see `event.rs`). The
//!   core carries the kind as an opaque [`parley_core::EventKind`].
//! - **Messages.** [`Store::send_message`], [`Store::edit_message`] and
//!   [`Store::delete_message`] keep a [`Message`]'s current state (and an
//!   edit trail) and append `message_created`, `message_updated` and
//!   `message_deleted` events. [`Store::messages`] pages through a channel.
//! - **Rooms, reads, pins, threads, search.** [`Store::create_room`] and
//!   [`Store::change_members`] keep rooms (channels of members-only
//!   namespaces) and their members; [`Store::mark_read`] moves read
//!   markers, and [`Store::unread`] counts from a running message count per
//!   channel; [`Store::pin`], [`Store::thread`] and [`Store::search`] (FTS5
//!   on SQLite, `tsvector` on PostgreSQL). Each concept has its file:
//!   `rooms.rs`, `reads.rs`, `pins.rs`, `threads.rs`, `search.rs`.
//! - **Uploads and reactions.** [`Store::create_upload`] keeps an
//!   [`Upload`]'s metadata (the bytes live in the server's upload storage)
//!   within its owner's quota, [`Store::uploads_of`] lists a user's uploads
//!   and [`Store::remove_upload`] removes one no message carries;
//!   messages carry up to [`MAX_ATTACHMENTS`] of their author's uploads.
//!   [`Store::react`] adds or removes a user's reaction to a message or to a
//!   channel and appends `reaction_added` or `reaction_removed` with the new
//!   count; [`Store::message_reactions`] and [`Store::channel_reactions`]
//!   read the counts relative to a reader.
//! - **Group commit.** Every write goes through one writer task that commits
//!   everything queued in one transaction, so throughput is not one fsync
//!   per message, and a refused operation rolls back alone without failing
//!   the others (see `writer.rs`).
//! - **Documents.** [`Store::write_document`] sets, merges, increments or
//!   deletes a [`Document`] of a channel, compare-and-set with a version,
//!   and appends `doc_changed`; [`Store::documents`] lists them filtered
//!   and ordered by top-level fields (`documents.rs`).
//! - **Connect.** [`Store::connect_profile`] reads what a user's connect
//!   needs (an app-wide ban, the block list, the unread total) in one
//!   statement.
//!
//! # Message event payloads
//!
//! A message event's payload includes what only the store knows: the id,
//! the offset, the times. So the store does not take the payload from the
//! caller: it takes an [`MessageEventEncoder`] at [`Store::open`] and calls
//! it inside the write transaction, once the database has assigned them.
//! The bytes it returns are stored as the publication's data and are the
//! same bytes live subscribers receive (through [`Store::deliver_to`] or the
//! returned [`StoredPublication`]), recovery replays and history shows. The
//! store itself never learns the wire format.
//!
//! # Backends
//!
//! One set of SQL runs on both backends through `sqlx::Any`: the schema uses
//! only integers, text and bytes, which `Any` carries without loss, and both
//! databases accept the same placeholders, `RETURNING`, `ON CONFLICT` and
//! partial indexes. What differs (DDL, connection settings, how a write
//! transaction begins) is a handful of lines in the migrations and in
//! `database.rs`. Migrations live in `migrations/sqlite` and
//! `migrations/postgres` and run at [`Store::open`], which reports what it
//! applied.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a write is on disk
//! (fsynced) before its caller hears of it, so it survives `kill -9` and a
//! power loss alike, and group commit pays that fsync once per batch.

mod commands;
mod connect_profile;
mod database;
mod documents;
mod durable_streams;
mod encoder;
mod error;
mod event;
mod messages;
mod migrate;
mod moderation;
mod pins;
mod publication;
mod reactions;
mod reads;
mod reports;
mod rooms;
mod search;
mod sql;
mod store;
mod threads;
mod time;
mod uploads;
mod webhooks;
mod writer;
mod writer_thread;

pub use connect_profile::{ConnectProfile, MAX_RESTRICTIONS_READ, RestrictionInForce};
pub use database::{Backend, DEFAULT_CONNECT_TIMEOUT, Database, StoreOptions};
pub use documents::{
    Bound, Comparison, Condition, Direction, Document, DocumentChanged, DocumentCursor,
    DocumentData, DocumentEdit, DocumentField, DocumentLimits, DocumentOrderBy, DocumentPage,
    DocumentQuery, DocumentWrite, DocumentWritten, Filter, MAX_DOCUMENT_PAGE, MAX_FIELD_BYTES,
    MAX_IN_VALUES, MAX_KEY_BYTES, Scalar,
};
pub use encoder::MessageEventEncoder;
pub use error::StoreError;
pub use event::EventEncoder;
pub use messages::{
    Changed, DeleteMode, MAX_PAGE_SIZE, MAX_REPLIERS, Message, MessageCursor, MessageDelete,
    MessageEdit, MessageId, MessagePage, MessageQuery, NewMessage, Order, Revision, Sent,
};
pub use migrate::AppliedMigration;
pub use moderation::{MAX_BLOCKS, MessageHide, Restriction, RestrictionKind, Visibility};
pub use parley_core::{HistoryCursor, HistoryQuery};
pub use pins::{MAX_PINS, Pin, PinAction, PinChange, Pinned};
pub use publication::{
    HistoryPage, MAX_RECOVERY, Recovery, Retention, StoredPublication, TrimScope,
};
pub use reactions::{
    Reacted, ReactionAction, ReactionChange, ReactionCount, ReactionEvent, ReactionTarget,
};
pub use reads::{
    MAX_UNREAD_CHANNELS, ReadChange, ReadDirection, ReadMark, ReadMarker, UnreadCount,
};
pub use reports::{MAX_REASON_LENGTH, Report, ReportId, ReportPage, ReportStatus};
pub use rooms::{
    MAX_LISTED_MEMBERS, MembersAction, MembersChange, MembersChanged, MembersEvent, NewRoom, Room,
    RoomCreated, RoomKind, RoomMember, RoomPage, RoomRole, RoomSummary,
};
pub use search::{SearchPage, SearchQuery, SearchScope};
pub use store::{Store, StoreStats};
pub use threads::ThreadPage;
pub use time::Timestamp;
pub use uploads::{
    Dimensions, MAX_ATTACHMENTS, NewUpload, Thumbnail, Upload, UploadCreation, UploadCursor,
    UploadId, UploadPage, UploadRemoval,
};
pub use webhooks::{NewWebhook, WebhookDelivery};
