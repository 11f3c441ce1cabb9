//! Why the server ends a connection.

/// A reason for the server to close a connection.
///
/// Wire protocols map each reason to a close code; what matters here is
/// whether the client should come back, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disconnect {
    /// The server is shutting down; reconnect (to another node) at once.
    Shutdown,
    /// The client could not keep up and its outbound queue overflowed;
    /// reconnect and recover what was missed.
    Slow,
    /// The client did not answer pings within the pong timeout.
    NoPong,
    /// The client sent nothing useful before the connect timeout.
    ConnectTimeout,
    /// The node missed publications of a channel the client subscribes to
    /// (its cluster broker lost its connection) and cannot deliver them
    /// any more; reconnect and recover from the stream position.
    MissedPublications,
    /// The connection's token expired and was not refreshed in time; get a
    /// new token, then reconnect.
    TokenExpired,
    /// The node holds as many connections as it may; back off and retry.
    NodeFull,
    /// The user holds as many connections as the app allows; back off.
    TooManyConnections,
    /// The server API disconnected this user; do not reconnect unchanged.
    Forced,
    /// The client's token is invalid; do not reconnect with it.
    Unauthorized,
    /// The client kept violating the protocol; do not reconnect unchanged.
    ProtocolViolation,
    /// The client sent a frame larger than the hard frame limit.
    FrameTooLarge,
}

impl Disconnect {
    /// Whether a client should reconnect after this disconnect, possibly
    /// after a back-off or a token refresh.
    pub fn reconnect(self) -> bool {
        match self {
            Disconnect::Shutdown
            | Disconnect::Slow
            | Disconnect::NoPong
            | Disconnect::ConnectTimeout
            | Disconnect::MissedPublications
            | Disconnect::TokenExpired
            | Disconnect::NodeFull
            | Disconnect::TooManyConnections => true,
            Disconnect::Forced
            | Disconnect::Unauthorized
            | Disconnect::ProtocolViolation
            | Disconnect::FrameTooLarge => false,
        }
    }

    /// A short human-readable reason, sent with the close frame.
    pub fn reason(self) -> &'static str {
        match self {
            Disconnect::Shutdown => "server shutdown",
            Disconnect::Slow => "slow client: outbound queue overflow",
            Disconnect::NoPong => "no pong",
            Disconnect::ConnectTimeout => "connect timeout",
            Disconnect::MissedPublications => "missed publications: reconnect and recover",
            Disconnect::TokenExpired => "token expired",
            Disconnect::NodeFull => "node connection limit reached",
            Disconnect::TooManyConnections => "user connection limit reached",
            Disconnect::Forced => "disconnected by the server",
            Disconnect::Unauthorized => "unauthorized",
            Disconnect::ProtocolViolation => "too many protocol errors",
            Disconnect::FrameTooLarge => "frame too large",
        }
    }
}
