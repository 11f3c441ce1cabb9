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

/// What a publication records: opaque data a client or backend published,
/// or an event of the layer above the core.
///
/// The core knows no event but the plain publication. The store's typed
/// events (a chat message sent, a pin, …) define their own kinds as
/// [`EventKind`]s; the core only carries the name, which is the name of the
/// native push and of the Pusher event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum PublicationKind {
    /// Opaque data published to the channel.
    #[default]
    Publication,
    /// An event the layer above the core defines (in the store's events).
    Event(EventKind),
}

impl PublicationKind {
    /// The name of the plain publication's kind.
    pub const PUBLICATION: &'static str = "publication";

    /// The kind's name, which is also the name of its push.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Publication => Self::PUBLICATION,
            Self::Event(kind) => kind.as_str(),
        }
    }

    /// The kind with this name ([`as_str`](Self::as_str) read back, as the
    /// store and the cluster's codec keep it); `None` for a name that is no
    /// kind's (see [`EventKind::parse`]).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            Self::PUBLICATION => Some(Self::Publication),
            name => EventKind::parse(name).map(Self::Event),
        }
    }
}

impl std::fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<EventKind> for PublicationKind {
    fn eq(&self, other: &EventKind) -> bool {
        matches!(self, Self::Event(kind) if kind == other)
    }
}

impl From<EventKind> for PublicationKind {
    fn from(kind: EventKind) -> Self {
        Self::Event(kind)
    }
}

/// The name of an event kind the layer above the core defines, such as the
/// store's `message_created`: 1 to [`MAX_LEN`](Self::MAX_LEN) characters,
/// lowercase ASCII letters, digits and `_`, never `publication`. Kinds the
/// code defines are static names; kinds read back (from the store, from
/// another node) share one allocation between clones.
#[derive(Clone)]
pub struct EventKind(Name);

#[derive(Clone)]
enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl EventKind {
    /// The longest name a kind may have.
    pub const MAX_LEN: usize = 64;

    /// The kind named `name`, for the constants that define kinds.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid kind name; as the constants are evaluated
    /// at compile time, that fails the build, not the server.
    pub const fn new(name: &'static str) -> Self {
        assert!(is_valid(name), "not a valid event kind name");
        Self(Name::Static(name))
    }

    /// The kind with this name, read back from storage or the network;
    /// `None` when the name is not valid.
    pub fn parse(name: &str) -> Option<Self> {
        is_valid(name).then(|| Self(Name::Shared(Arc::from(name))))
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }
}

/// Whether `name` may name an event kind (see [`EventKind`]).
const fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > EventKind::MAX_LEN {
        return false;
    }
    let reserved = PublicationKind::PUBLICATION.as_bytes();
    let mut same = bytes.len() == reserved.len();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if !(byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_') {
            return false;
        }
        if same && byte != reserved[index] {
            same = false;
        }
        index += 1;
    }
    !same
}

impl PartialEq for EventKind {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventKind {}

impl std::hash::Hash for EventKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventKind({:?})", self.as_str())
    }
}

impl std::fmt::Display for EventKind {
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
    use std::hash::{BuildHasher, RandomState};

    use super::{EventKind, PublicationKind};

    const CREATED: EventKind = EventKind::new("message_created");

    #[test]
    fn every_kind_is_read_back_from_its_name() {
        for kind in [
            PublicationKind::Publication,
            PublicationKind::Event(CREATED),
        ] {
            assert_eq!(
                PublicationKind::from_name(kind.as_str()),
                Some(kind.clone())
            );
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(
            PublicationKind::from_name("message_created"),
            Some(PublicationKind::Event(CREATED))
        );
    }

    #[test]
    fn a_kind_read_back_equals_the_static_one() {
        let parsed = EventKind::parse("message_created").expect("a valid name");
        assert_eq!(parsed, CREATED);
        let state = RandomState::new();
        assert_eq!(state.hash_one(&parsed), state.hash_one(&CREATED));
    }

    #[test]
    fn invalid_names_are_no_kind() {
        for name in [
            "",
            "Message",
            "message-created",
            "message created",
            "publicatio\u{e9}",
        ] {
            assert_eq!(EventKind::parse(name), None, "{name:?}");
            assert_eq!(PublicationKind::from_name(name), None, "{name:?}");
        }
        assert_eq!(EventKind::parse("publication"), None);
        assert_eq!(EventKind::parse(&"a".repeat(EventKind::MAX_LEN + 1)), None);
        assert!(EventKind::parse(&"a".repeat(EventKind::MAX_LEN)).is_some());
    }
}
