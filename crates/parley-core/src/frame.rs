//! Frames: encoded bytes ready for a connection.

use bytes::Bytes;

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
