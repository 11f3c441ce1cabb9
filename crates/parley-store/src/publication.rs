//! Stored publications: the events of a channel's durable stream, and the
//! requests and pages that read and trim them.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, ClientInfo, Publication, PublicationKind, StreamPosition};

use crate::{MessageId, Timestamp};

/// The most publications one recovery returns, so that one call is bounded
/// in memory; a client further behind reloads instead.
pub const MAX_RECOVERY: usize = 1000;

/// One event of a channel's durable stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPublication {
    /// The channel.
    pub channel: ChannelName,
    /// Its offset and the stream's epoch.
    pub position: StreamPosition,
    /// What it records.
    pub kind: PublicationKind,
    /// The payload subscribers receive, exactly as stored.
    pub data: Bytes,
    /// The message a message event is about.
    pub message_id: Option<MessageId>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// The user the content is from: a message's author, or the user who
    /// published it. Block lists filter on it.
    pub author: Option<Arc<str>>,
    /// The one user who may see it (events of a shadow-muted author's
    /// messages); `None` for everyone who may read the channel.
    pub audience: Option<Arc<str>>,
}

impl StoredPublication {
    /// The publication as the core delivers it. `info` describes the
    /// publishing client of a live publication; the store does not keep it,
    /// so recovered publications have none.
    pub fn to_publication(&self, info: Option<ClientInfo>) -> Publication {
        Publication {
            channel: self.channel.clone(),
            kind: self.kind.clone(),
            data: self.data.clone(),
            position: self.position.clone(),
            info,
            author: self.author.clone(),
            audience: self.audience.clone(),
        }
    }
}

/// The answer to [`publications_after`](crate::Store::publications_after):
/// what a resubscribing client missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The publications after the client's offset, oldest first, up to
    /// `position` and the limit.
    pub publications: Vec<StoredPublication>,
    /// The stream's epoch and last offset when the publications were read.
    /// Anything newer reaches the client live.
    pub position: StreamPosition,
    /// Whether `publications` hold every offset from the client's offset + 1
    /// up to `position.offset`: nothing was trimmed away and the limit cut
    /// nothing. The caller must also check that the client's epoch is
    /// `position.epoch`; only then is the client recovered. (A node of a
    /// cluster cuts it at what it has delivered, as a core
    /// [`StreamSlice`](parley_core::StreamSlice).)
    pub complete: bool,
}

/// One page of a channel's history, as the store keeps it (the core's
/// [`HistoryPage`](parley_core::HistoryPage) is what the node serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The publications, oldest first.
    pub publications: Vec<StoredPublication>,
    /// The stream's epoch and last offset.
    pub position: StreamPosition,
    /// Whether older publications are still kept.
    pub has_older: bool,
    /// Whether newer publications exist.
    pub has_newer: bool,
}

/// Which channels a trim applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrimScope {
    /// One channel.
    Channel(ChannelName),
    /// Every channel of one namespace, for a namespace's retention sweep:
    /// `Some("chat")` is the channels named `chat:…`, `None` the default
    /// namespace (channels without a `:`).
    Namespace(Option<String>),
    /// Every channel of the app.
    AllChannels,
}

/// How much of a stream's history to keep. A publication is removed when
/// either limit drops it; a stream's offsets and epoch stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many of the newest publications per channel.
    pub keep_last: Option<u64>,
    /// Remove publications stored before this time.
    pub older_than: Option<Timestamp>,
}
