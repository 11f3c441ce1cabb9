//! Frames: encoded bytes ready for a connection, and the seam through which a
//! wire protocol encodes publications.

use bytes::Bytes;

use crate::Push;

/// A text frame, encoded once and shared by every connection it goes to.
///
/// Invariant: the bytes are valid UTF-8 (frames are built from strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    /// Wraps an encoded string.
    pub fn new(text: String) -> Self {
        Self(Bytes::from(text))
    }

    /// Wraps a static string.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// The encoded size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the frame is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoded text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a frame is built from a string")
    }

    /// The shared bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// The wire protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Parley's own JSON protocol.
    Native,
    /// Pusher Channels protocol 7.
    Pusher,
}

impl Protocol {
    /// How many protocols there are; sizes per-publication encode caches.
    pub const COUNT: usize = 2;

    /// A dense index for per-protocol caches.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a client of this protocol receives its own publications.
    /// Pusher never echoes a client event to its sender.
    pub fn echoes_own_publications(self) -> bool {
        match self {
            Protocol::Native => true,
            Protocol::Pusher => false,
        }
    }
}

/// Encodes pushes into the frames of a wire protocol.
///
/// The hub calls it at most once per push and protocol, and shares the frame
/// among every subscriber speaking that protocol.
pub trait FrameEncoder: Send + Sync + 'static {
    /// The frame that delivers `push` to a `protocol` client.
    fn encode(&self, protocol: Protocol, push: &Push<'_>) -> Frame;
}
