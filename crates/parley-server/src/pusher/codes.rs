//! `pusher:error` codes and close codes, with Pusher's meanings:
//!
//! | range | what pusher-js does |
//! |---|---|
//! | 4000–4099 | does not reconnect unchanged |
//! | 4100–4199 | backs off, then reconnects |
//! | 4200–4299 | reconnects at once |
//! | 4300–4399 | the client's message was refused |

use parley_core::Disconnect;

/// The app key names no app.
pub const APP_DOES_NOT_EXIST: u16 = 4001;
/// The `protocol` query parameter is not a version this server speaks.
pub const UNSUPPORTED_PROTOCOL: u16 = 4007;
/// The `protocol` query parameter is missing.
pub const NO_PROTOCOL_VERSION: u16 = 4008;
/// The connection, or a subscription, is not authorized.
pub const UNAUTHORIZED: u16 = 4009;
/// The node is over capacity: back off.
pub const OVER_CAPACITY: u16 = 4100;
/// Reconnect at once (shutdown, a slow client).
pub const GENERIC_RECONNECT: u16 = 4200;
/// No pong came in time.
pub const PONG_NOT_RECEIVED: u16 = 4201;
/// A client event was refused (over the rate limit, or not allowed).
pub const CLIENT_EVENT_REJECTED: u16 = 4301;

/// The close code for `reason` on a Pusher connection.
pub fn close_code(reason: Disconnect) -> u16 {
    match reason {
        Disconnect::Shutdown
        | Disconnect::Slow
        | Disconnect::ConnectTimeout
        | Disconnect::MissedPublications => GENERIC_RECONNECT,
        Disconnect::NoPong => PONG_NOT_RECEIVED,
        Disconnect::NodeFull | Disconnect::TooManyConnections => OVER_CAPACITY,
        Disconnect::Forced | Disconnect::Unauthorized | Disconnect::TokenExpired => UNAUTHORIZED,
        Disconnect::ProtocolViolation | Disconnect::FrameTooLarge => CLIENT_EVENT_REJECTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_reconnects_at_once() {
        // Closing on shutdown with a 40xx code stops pusher-js reconnecting.
        assert_eq!(close_code(Disconnect::Shutdown), 4200);
        assert_eq!(close_code(Disconnect::NoPong), 4201);
        assert_eq!(close_code(Disconnect::NodeFull), 4100);
    }
}
