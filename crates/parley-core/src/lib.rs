//! Parley's domain: the parts of a realtime server that do not depend on a
//! wire format or a transport.
//!
//! - [`Node`] is the heart of one server process. It owns one [`App`] per
//!   configured application and the [`Broker`] that gives every publication
//!   its [`StreamPosition`]; a persisted namespace's streams are kept by the
//!   [`DurableStreams`] the server registers, and the node alone chooses
//!   between the two by the namespace's [`Durability`].
//! - [`Hub`] holds the connections and subscriptions of one app on this node
//!   and does the local fan-out.
//! - [`ClientHandle`] is the shared half of one connection: its identity and
//!   its bounded [`OutboundQueue`].
//! - [`ChannelName`] and [`Namespace`] decide what a channel is and who may
//!   use it; [`Claims`] are what a verified token says about a user.
//! - [`StreamSlice`] and [`HistoryPage`] are what readers get of a channel's
//!   stream, whatever keeps it; [`Viewer`] holds the one rule of what a
//!   reader sees of it, live, replayed or paged.
//!
//! Nothing in this crate knows JSON, HTTP or WebSocket: publication data is
//! opaque bytes, and wire protocols plug in through the [`FrameEncoder`]s the
//! server registers with the node.

mod app;
mod blocks;
mod broker;
mod broker_memory;
mod channel;
mod claims;
mod client;
mod counters;
mod disconnect;
mod durable_streams;
mod encoder;
mod error;
mod frame;
mod hub;
mod live_counts;
mod namespace;
mod node;
mod node_presence;
mod node_stream;
mod observer;
mod presence;
mod presence_feed;
mod presence_memory;
mod presence_relay;
mod publication;
mod push;
mod queue;
mod stream;
mod throttle;
mod typing;
mod user_status;
mod viewer;

pub use app::{App, AppOptions, Grant};
pub use blocks::{BlockBook, BlockList};
pub use broker::{BackendError, BoxFuture, Broker, BrokerEventHandler, HistoryOptions};
pub use broker_memory::MemoryBroker;
pub use channel::{ChannelName, InvalidChannelName, MAX_CHANNEL_NAME_BYTES};
pub use claims::Claims;
pub use client::{ClientHandle, ClientId};
pub use counters::{COUNTERS, Counters};
pub use disconnect::Disconnect;
pub use durable_streams::DurableStreams;
pub use encoder::{
    Encoder, EncoderId, EncoderRegistry, FrameEncoder, MAX_ENCODERS, TooManyEncoders,
};
pub use error::Error;
pub use frame::Frame;
pub use hub::{BrokenInvariant, ChannelSummary, Hub};
pub use namespace::{Durability, Namespace};
pub use node::{ConnectionSlot, Node, NodeInfo, NodeOptions};
pub use observer::{ChannelEvent, ChannelObserver, ObserverSet};
pub use presence::{
    Expired, Lease, LeaseKey, Member, MemberInfo, PresenceChange, PresenceConnection,
    PresenceManager, PresencePage, PresenceStats, SessionAdded,
};
pub use presence_feed::PresenceFeed;
pub use presence_memory::MemoryPresence;
pub use presence_relay::{PresenceEvent, PresenceRelay, SharedStatus};
pub use publication::{ClientInfo, EventKind, Publication, PublicationKind, StreamPosition};
pub use push::Push;
pub use queue::{OutboundQueue, PushError};
pub use stream::{HistoryCursor, HistoryEntry, HistoryPage, HistoryQuery, StreamSlice};
pub use throttle::Throttle;
pub use typing::{TYPING_THROTTLE, Typer, TypersExpired, TypingBook, TypingChange};
pub use user_status::{Status, StatusBook, UserStatus};
pub use viewer::Viewer;
