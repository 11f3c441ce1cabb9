//! `MessageEventEncoder`: how message events become publication payloads.

use bytes::Bytes;
use parley_core::PublicationKind;

use crate::{Message, ReactionEvent};

/// Turns a message event into the payload bytes its publication carries.
///
/// The store calls it inside the write transaction, after the database has
/// assigned the message's id, offset and times, and stores the bytes it
/// returns as the publication's data. Live subscribers, recovery and history
/// therefore all see the same bytes, and the store itself never learns the
/// wire format. The server implements it with its JSON shape of a message.
///
/// It runs on the store's writer task for every message event, so it must be
/// quick and must not block or panic. It is also called again with the
/// tombstone when a message is deleted, to redact the events that carried
/// the message's text (see [`crate::Store::delete_message`]).
pub trait MessageEventEncoder: Send + Sync + 'static {
    /// The payload of a `kind` event ([`Message::CREATED`],
    /// [`Message::UPDATED`] or [`Message::DELETED`]) about `message` as it
    /// is after the change.
    fn encode(&self, kind: PublicationKind, message: &Message) -> Bytes;

    /// The payload of a [`ReactionEvent::ADDED`] or
    /// [`ReactionEvent::REMOVED`] event.
    fn encode_reaction(&self, kind: PublicationKind, reaction: &ReactionEvent) -> Bytes;
}
