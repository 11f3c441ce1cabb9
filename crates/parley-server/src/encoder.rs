//! The server's wire encoders, registered with the node: each protocol's
//! pushes in its own format.

use parley_core::{Encoder, Node, TooManyEncoders};

use crate::native::NativeEncoder;
use crate::pusher::PusherEncoder;

/// The encoders of the server's two wire protocols. A connection's client
/// handle names the one of its protocol; the hub encodes a push at most once
/// per encoder among a channel's subscribers.
#[derive(Debug, Clone)]
pub struct WireEncoders {
    /// Parley's own JSON protocol.
    pub native: Encoder,
    /// Pusher Channels protocol 7.
    pub pusher: Encoder,
}

impl WireEncoders {
    /// Registers both encoders with `node`.
    pub fn register(node: &Node) -> Result<Self, TooManyEncoders> {
        Ok(Self {
            native: node.register_encoder(NativeEncoder)?,
            pusher: node.register_encoder(PusherEncoder)?,
        })
    }
}
