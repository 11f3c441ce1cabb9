//! The server's frame encoder: each protocol's pushes in its own format.

use parley_core::{Frame, FrameEncoder, Protocol, Push};

use crate::native::NativeEncoder;
use crate::pusher::PusherEncoder;

/// Encodes a push for whichever protocol a subscriber speaks; the hub calls
/// it once per protocol present among a channel's subscribers.
#[derive(Debug, Default)]
pub struct WireEncoder;

impl FrameEncoder for WireEncoder {
    fn encode(&self, protocol: Protocol, push: &Push<'_>) -> Frame {
        match protocol {
            Protocol::Native => NativeEncoder.encode(protocol, push),
            Protocol::Pusher => PusherEncoder.encode(protocol, push),
        }
    }
}
