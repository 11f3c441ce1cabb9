//! The shared half of one connection.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::{COUNTERS, Counters, Disconnect, Encoder, Frame, MemberInfo, OutboundQueue, PushError};

/// A connection's id, unique on its node.
///
/// It is shown as `node.sequence` (for example `1823.7`), which is also the
/// socket id format Pusher clients expect.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId {
    /// The node's number.
    pub node: u32,
    /// The connection's sequence number on that node.
    pub sequence: u64,
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.sequence)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What the hub, the node and the connection's own task share about one
/// connection: who it is, which encoder its pushes take, and where its
/// frames go.
///
/// A handle exists from the moment the connection is accepted, so errors can
/// be queued before the client identifies itself; the identity is set once,
/// when the client connects.
#[derive(Debug)]
pub struct ClientHandle {
    /// The connection's id.
    pub id: ClientId,
    /// The app the connection belongs to.
    pub app: Arc<str>,
    /// The encoder of the connection's wire protocol.
    encoder: Encoder,
    identity: OnceLock<ClientIdentity>,
    queue: OutboundQueue,
}

/// Who a connection is, once it has connected.
#[derive(Debug)]
struct ClientIdentity {
    user: Arc<str>,
    info: Arc<MemberInfo>,
}

impl ClientHandle {
    /// A handle whose pushes `encoder` encodes and whose queue holds at
    /// most `max_queue_bytes`.
    pub fn new(id: ClientId, app: Arc<str>, encoder: Encoder, max_queue_bytes: usize) -> Self {
        Self {
            id,
            app,
            encoder,
            identity: OnceLock::new(),
            queue: OutboundQueue::new(max_queue_bytes),
        }
    }

    /// The encoder of the connection's wire protocol.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Sets who the connection is. Returns false if it was set already.
    pub(crate) fn identify(&self, user: Arc<str>, info: Arc<MemberInfo>) -> bool {
        self.identity.set(ClientIdentity { user, info }).is_ok()
    }

    /// Whether the connection has identified itself (with a token or
    /// anonymously).
    pub fn is_identified(&self) -> bool {
        self.identity.get().is_some()
    }

    /// The user id; empty for an anonymous or not yet connected client.
    pub fn user(&self) -> &str {
        self.identity.get().map_or("", |identity| &identity.user)
    }

    /// The user id, shared.
    pub fn user_arc(&self) -> Arc<str> {
        self.identity
            .get()
            .map_or_else(|| Arc::from(""), |identity| identity.user.clone())
    }

    /// The `info` claim of the connection's token, as raw JSON.
    pub fn info(&self) -> Option<&Bytes> {
        self.identity
            .get()
            .and_then(|identity| identity.info.info.as_ref())
    }

    /// What the token says about the user: name, avatar, info.
    pub fn member_info(&self) -> Arc<MemberInfo> {
        self.identity
            .get()
            .map_or_else(Arc::default, |identity| identity.info.clone())
    }

    /// Whether the connection has no user.
    pub fn is_anonymous(&self) -> bool {
        self.user().is_empty()
    }

    /// Queues a frame for the connection.
    pub fn send(&self, frame: Frame) -> Result<(), PushError> {
        let result = self.queue.push(frame);
        if result == Err(PushError::Overflow) {
            Counters::add(&COUNTERS.slow_disconnects, 1);
        }
        result
    }

    /// Asks the connection's task to close the connection.
    pub fn disconnect(&self, reason: Disconnect) {
        self.queue.close(reason);
    }

    /// The connection's outbound queue.
    pub fn queue(&self) -> &OutboundQueue {
        &self.queue
    }
}
