//! Publications and their stream positions.

use std::sync::Arc;

use bytes::Bytes;

use crate::{ChannelName, ClientId};

/// Where a publication sits in its channel's stream.
///
/// The offset grows by exactly one per publication. The epoch names one
/// incarnation of the stream: when a stream is lost or reset (an in-memory
/// stream after a restart, say) it gets a new epoch, and offsets from the old
/// epoch mean nothing in the new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamPosition {
    /// Position in the stream, starting at 1.
    pub offset: u64,
    /// The stream's incarnation.
    pub epoch: Arc<str>,
}

/// Who published a publication, when a client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The publishing connection.
    pub client: ClientId,
    /// The publishing user; empty for an anonymous connection.
    pub user: Arc<str>,
    /// The `info` claim of the publisher's token, as raw JSON.
    pub info: Option<Bytes>,
}

/// What a publication records. Plain publications carry whatever a client
/// or backend published; chat channels also record message events, each in
/// the stream with its own position so recovery replays edits and deletes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PublicationKind {
    /// Opaque data published to the channel.
    #[default]
    Publication,
    /// A chat message was sent; the data is the message.
    MessageCreated,
    /// A chat message was edited; the data is the message as it is now.
    MessageUpdated,
    /// A chat message was deleted; the data is its tombstone.
    MessageDeleted,
    /// Members joined a room; the data names the room and them.
    MemberAdded,
    /// Members left a room; the data names the room and them.
    MemberRemoved,
    /// A member's read marker moved; the data is the marker.
    ReadUpdated,
    /// A message was pinned; the data is the pin.
    MessagePinned,
    /// A message was unpinned; the data is the former pin.
    MessageUnpinned,
    /// A user reacted to a message or to the channel; the data names the
    /// reaction and its new count.
    ReactionAdded,
    /// A user took a reaction back; the data names it and its new count.
    ReactionRemoved,
}

impl PublicationKind {
    /// Every kind, in declaration order (a new kind is added here too).
    pub const ALL: [Self; 11] = [
        Self::Publication,
        Self::MessageCreated,
        Self::MessageUpdated,
        Self::MessageDeleted,
        Self::MemberAdded,
        Self::MemberRemoved,
        Self::ReadUpdated,
        Self::MessagePinned,
        Self::MessageUnpinned,
        Self::ReactionAdded,
        Self::ReactionRemoved,
    ];

    /// The kind's name, which is also the name of its push.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publication => "publication",
            Self::MessageCreated => "message_created",
            Self::MessageUpdated => "message_updated",
            Self::MessageDeleted => "message_deleted",
            Self::MemberAdded => "member_added",
            Self::MemberRemoved => "member_removed",
            Self::ReadUpdated => "read_updated",
            Self::MessagePinned => "message_pinned",
            Self::MessageUnpinned => "message_unpinned",
            Self::ReactionAdded => "reaction_added",
            Self::ReactionRemoved => "reaction_removed",
        }
    }

    /// The kind with this name ([`as_str`](Self::as_str) read back, as the
    /// store keeps it); `None` for a name no kind has.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The channel it was published to.
    pub channel: ChannelName,
    /// What it records.
    pub kind: PublicationKind,
    /// The payload: opaque bytes (JSON text on both wire protocols).
    pub data: Bytes,
    /// Its place in the channel's stream.
    pub position: StreamPosition,
    /// The publishing client, absent for publications from the server API.
    pub info: Option<ClientInfo>,
    /// The user the content is from (a message's author, a publishing
    /// user), for subscribers' block lists; `None` when unknown.
    pub author: Option<Arc<str>>,
    /// The one user whose connections may receive it (a shadow-muted
    /// author's own messages); `None` for every subscriber.
    pub audience: Option<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::PublicationKind;

    #[test]
    fn every_kind_is_read_back_from_its_name() {
        for kind in PublicationKind::ALL {
            assert_eq!(PublicationKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(PublicationKind::from_name("message"), None);
    }
}
