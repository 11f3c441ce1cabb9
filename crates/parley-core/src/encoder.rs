//! Encoders: the seam through which a wire protocol turns pushes into
//! frames, and the registration that gives each encoder the id the hub's
//! frame cache is keyed by.
//!
//! The core knows no protocol. The server registers one encoder per wire
//! protocol with the node ([`Node::register_encoder`]), and every client
//! names the encoder it was created with. A broadcast encodes a push at most
//! once per encoder present among the channel's subscribers and shares the
//! frame among them.
//!
//! [`Node::register_encoder`]: crate::Node::register_encoder

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{ClientHandle, Frame, Push};

/// How many encoders one node registers at most. The hub keeps a broadcast's
/// frames in a fixed array of this many slots, so the fan-out allocates no
/// cache.
pub const MAX_ENCODERS: usize = 4;

/// Encodes pushes into the frames of one wire protocol.
pub trait FrameEncoder: Send + Sync + 'static {
    /// The frame that delivers `push` to any client of this encoder.
    fn encode(&self, push: &Push<'_>) -> Frame;

    /// Whether `client` gets `push` at all; the hub asks before it encodes
    /// or holds a push for a subscriber. A protocol that never returns a
    /// client's own publication to it says no here. By default every push
    /// is delivered.
    fn delivers(&self, push: &Push<'_>, client: &ClientHandle) -> bool {
        let _ = (push, client);
        true
    }
}

/// The id a registration hands out: dense from zero, unique on its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncoderId(u8);

impl EncoderId {
    /// A dense index below [`MAX_ENCODERS`], for per-encoder caches.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A registered encoder: its id and the encoder itself. Cheap to clone; each
/// [`ClientHandle`] holds the one it encodes with.
#[derive(Clone)]
pub struct Encoder {
    id: EncoderId,
    encoder: Arc<dyn FrameEncoder>,
}

impl Encoder {
    /// The id the frame cache of a broadcast is keyed by.
    pub fn id(&self) -> EncoderId {
        self.id
    }

    /// The frame that delivers `push`.
    pub fn encode(&self, push: &Push<'_>) -> Frame {
        self.encoder.encode(push)
    }

    /// Whether `client` gets `push` at all.
    pub fn delivers(&self, push: &Push<'_>, client: &ClientHandle) -> bool {
        self.encoder.delivers(push, client)
    }

    /// Whether both are the same registration (not merely the same id, which
    /// another registry may hand out too).
    pub(crate) fn is(&self, other: &Encoder) -> bool {
        self.id == other.id && Arc::ptr_eq(&self.encoder, &other.encoder)
    }
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder").field("id", &self.id).finish()
    }
}

/// Hands out encoder ids. The node holds one, so the ids of its clients'
/// encoders never collide within a hub.
#[derive(Debug, Default)]
pub struct EncoderRegistry {
    registered: AtomicUsize,
}

/// Why an encoder could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {MAX_ENCODERS} encoders can be registered with one node")]
pub struct TooManyEncoders;

impl EncoderRegistry {
    /// Registers `encoder` under the next free id.
    pub fn register(&self, encoder: impl FrameEncoder) -> Result<Encoder, TooManyEncoders> {
        let index = self
            .registered
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |registered| {
                (registered < MAX_ENCODERS).then_some(registered + 1)
            })
            .map_err(|_| TooManyEncoders)?;
        let id = u8::try_from(index).expect("MAX_ENCODERS fits in a u8");
        Ok(Encoder {
            id: EncoderId(id),
            encoder: Arc::new(encoder),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blank;
    impl FrameEncoder for Blank {
        fn encode(&self, _: &Push<'_>) -> Frame {
            Frame::from_static("")
        }
    }

    #[test]
    fn ids_are_dense_and_bounded() {
        let registry = EncoderRegistry::default();
        let ids: Vec<usize> = (0..MAX_ENCODERS)
            .map(|_| registry.register(Blank).unwrap().id().index())
            .collect();
        assert_eq!(ids, (0..MAX_ENCODERS).collect::<Vec<_>>());
        assert_eq!(registry.register(Blank).unwrap_err(), TooManyEncoders);
    }
}
