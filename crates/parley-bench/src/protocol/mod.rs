//! The client side of the wire protocols the generator speaks: opening a
//! connection through its handshake, subscribing, publishing from the
//! connection, and telling received control frames apart by their bytes.
//!
//! - [`native`]: Parley's native protocol at `GET /ws`.
//! - [`pusher`]: the Pusher Channels protocol 7 at `GET /app/{key}`.
//! - [`ws`]: the lean client WebSocket both run over (the upgrade, reads
//!   into one buffer per connection, writes); [`ws_codec`]: its frames.

pub mod native;
pub mod pusher;
pub mod ws;
pub mod ws_codec;

use std::time::Duration;

use serde::Serialize;

use crate::credentials::{Credentials, TokenMinter};
use crate::socket::Dialer;
use crate::target::Target;

pub use ws::{Message, Ws};

/// Which protocol the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Parley's native protocol (`/ws`, JWT connect, `publish` commands,
    /// HTTP API under `/api/v1`).
    Native,
    /// Pusher Channels protocol 7 (`/app/{key}`, signed `/apps/{id}/events`).
    Pusher,
}

impl Protocol {
    /// The prefix of benchmark channel names when none is given: a
    /// namespace for Parley, a plain prefix for Pusher (whose channel names
    /// cannot hold `:`).
    pub fn default_channel_prefix(self) -> &'static str {
        match self {
            Protocol::Native => "bench:",
            Protocol::Pusher => "bench-",
        }
    }
}

/// One connection, through its protocol handshake.
#[derive(Debug)]
pub struct Conn {
    /// The connection's number in the run, from 0.
    pub index: usize,
    /// The WebSocket.
    pub ws: Ws,
    /// The server's id of the connection: the native client id, or the
    /// Pusher socket id.
    pub socket_id: String,
    /// The next native command id.
    next_id: u64,
}

impl Conn {
    fn new(index: usize, ws: Ws) -> Self {
        Self {
            index,
            ws,
            socket_id: String::new(),
            next_id: 1,
        }
    }

    /// A fresh command id.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// What a received text frame that carries no payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// A reply accepting a command (a publish, in the run phase).
    Ack,
    /// An error reply or error event.
    Error,
    /// A protocol-level ping that must be answered.
    Ping,
    /// Anything else.
    Other,
}

/// What a received frame is, during a presence storm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceInbound {
    /// The subscription to the presence channel was confirmed.
    Subscribed,
    /// The subscription was refused.
    Refused,
    /// A presence push (native `join`, `presence_diff`, `leave`; Pusher
    /// `subscription_succeeded` with its member list, `member_added`,
    /// `member_removed`) naming `members` members that joined.
    Presence {
        /// Which push.
        kind: PresenceKind,
        /// How many members joined, by this push.
        members: u64,
    },
    /// A protocol-level ping that must be answered.
    Ping,
    /// Anything else.
    Other,
}

/// What a received frame is, on a connection that follows one channel's
/// stream (the reconnect storm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamInbound<'a> {
    /// The subscription was confirmed: the native reply, with its stream
    /// position and `recovered`; Pusher's `subscription_succeeded`, with
    /// none.
    Subscribed(Option<native::SubscribeReply>),
    /// The subscription was refused (or its reply could not be read).
    Refused,
    /// A publication, with its offset and epoch in the native protocol
    /// (none in Pusher's, or when they could not be found).
    Publication(Option<(u64, &'a [u8])>),
    /// A protocol-level ping that must be answered.
    Ping,
    /// Anything else.
    Other,
}

/// The kinds of presence push, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceKind {
    /// One member joined (native `join`, Pusher `member_added`).
    Join,
    /// Several joins and leaves at once (native `presence_diff`), or the
    /// member list (Pusher `subscription_succeeded`).
    Batch,
    /// One member left (native `leave`, Pusher `member_removed`).
    Leave,
}

/// How a run's connections talk to the server.
#[derive(Debug)]
pub struct Client {
    /// The protocol.
    pub protocol: Protocol,
    /// The server (the first `--url`): where HTTP calls go.
    pub target: Target,
    /// Every `--url`'s server and the dialer of its sockets: connection
    /// `i` opens on node `i mod n`.
    nodes: Vec<(Target, Dialer)>,
    credentials: Credentials,
    minter: Option<TokenMinter>,
    /// How long opening (or subscribing) one connection may take.
    pub step_timeout: Duration,
}

impl Client {
    /// A client for `protocol` opening connections on `nodes` in turn;
    /// fails when there is no node or a credential the protocol needs to
    /// connect is missing.
    pub fn new(
        protocol: Protocol,
        nodes: Vec<(Target, Dialer)>,
        credentials: Credentials,
        token_ttl: Duration,
        step_timeout: Duration,
    ) -> Result<Self, String> {
        let minter = match protocol {
            Protocol::Native => Some(TokenMinter::new(credentials.secret()?, token_ttl)),
            Protocol::Pusher => {
                credentials.key()?;
                None
            }
        };
        let (target, _) = nodes.first().ok_or("--url names no server")?;
        Ok(Self {
            protocol,
            target: target.clone(),
            nodes,
            credentials,
            minter,
            step_timeout,
        })
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Opens connection `index`: TCP, the WebSocket upgrade and the
    /// protocol's handshake (a native `connect` with a fresh token for user
    /// [`user_of`]`(index)`, or Pusher's `connection_established`).
    pub async fn open(&self, index: usize) -> Result<Conn, String> {
        let (target, dialer) = &self.nodes[node_of(index, self.nodes.len())];
        let opening = async {
            let stream = dialer
                .connect(index)
                .await
                .map_err(|error| format!("connect: {error}"))?;
            let path = match self.protocol {
                Protocol::Native => "/ws".to_owned(),
                Protocol::Pusher => pusher::path(self.credentials.key()?),
            };
            let ws = Ws::connect(stream, target.authority(), &target.request_path(&path)).await?;
            let mut conn = Conn::new(index, ws);
            match (self.protocol, &self.minter) {
                (Protocol::Native, Some(minter)) => {
                    let token = minter.mint(&user_of(index))?;
                    native::connect(&mut conn, &token).await?;
                }
                _ => pusher::connect(&mut conn).await?,
            }
            Ok(conn)
        };
        tokio::time::timeout(self.step_timeout, opening)
            .await
            .map_err(|_| format!("no handshake within {:?}", self.step_timeout))?
    }

    /// Subscribes `conn` to `channels` and waits until every subscription
    /// is confirmed.
    pub async fn subscribe(&self, conn: &mut Conn, channels: &[String]) -> Result<(), String> {
        if channels.is_empty() {
            return Ok(());
        }
        let subscribing = async {
            match self.protocol {
                Protocol::Native => native::subscribe(conn, channels).await,
                Protocol::Pusher => {
                    let key = self.credentials.key()?;
                    pusher::subscribe(conn, channels, key, self.credentials.app_secret.as_deref())
                        .await
                }
            }
        };
        tokio::time::timeout(self.step_timeout, subscribing)
            .await
            .map_err(|_| format!("subscriptions not confirmed within {:?}", self.step_timeout))?
    }

    /// The frame that publishes `payload` (JSON) to `channel` from a
    /// connection.
    pub fn publish_frame(&self, conn: &mut Conn, channel: &str, payload: &str) -> String {
        match self.protocol {
            Protocol::Native => native::publish_frame(conn.take_id(), channel, payload),
            Protocol::Pusher => pusher::client_event_frame(channel, payload),
        }
    }

    /// The frame that subscribes connection `conn` to the presence channel
    /// `channel` as user `bench-{index}`.
    pub fn presence_subscribe_frame(
        &self,
        conn: &mut Conn,
        channel: &str,
    ) -> Result<String, String> {
        match self.protocol {
            Protocol::Native => Ok(native::subscribe_frame(conn.take_id(), channel)),
            Protocol::Pusher => Ok(pusher::presence_subscribe_frame(
                channel,
                &user_of(conn.index),
                self.credentials.key()?,
                self.credentials.secret()?,
                &conn.socket_id,
            )),
        }
    }

    /// The frame that subscribes `conn` to the public channel `channel`;
    /// with `since`, asking the server to recover what the connection
    /// missed after it (native only: Pusher has no recovery).
    pub fn stream_subscribe_frame(
        &self,
        conn: &mut Conn,
        channel: &str,
        since: Option<&native::Position>,
    ) -> String {
        match (self.protocol, since) {
            (Protocol::Native, Some(since)) => {
                native::subscribe_since_frame(conn.take_id(), channel, since)
            }
            (Protocol::Native, None) => native::subscribe_frame(conn.take_id(), channel),
            (Protocol::Pusher, _) => pusher::subscribe_frame(channel),
        }
    }

    /// What a frame is, on a connection following one channel's stream.
    pub fn stream_inbound<'a>(&self, frame: &'a [u8]) -> StreamInbound<'a> {
        match self.protocol {
            Protocol::Native => native::stream_inbound(frame),
            Protocol::Pusher => pusher::stream_inbound(frame),
        }
    }

    /// What a frame is, during a presence storm.
    pub fn presence_inbound(&self, frame: &[u8]) -> PresenceInbound {
        match self.protocol {
            Protocol::Native => native::presence_inbound(frame),
            Protocol::Pusher => pusher::presence_inbound(frame),
        }
    }

    /// The bytes that name user `user` in the protocol's presence pushes:
    /// the id in quotes (escaped ones for Pusher, whose data is a
    /// JSON-encoded string).
    pub fn user_needle(&self, user: &str) -> Vec<u8> {
        match self.protocol {
            Protocol::Native => format!("\"{user}\"").into_bytes(),
            Protocol::Pusher => format!("\\\"{user}\\\"").into_bytes(),
        }
    }

    /// Whether a publication sent from a connection reaches the sender too
    /// (native publications do; Pusher client events never do).
    pub fn echoes_to_sender(&self) -> bool {
        self.protocol == Protocol::Native
    }

    /// Whether the server acknowledges publications sent from connections.
    pub fn acks_publications(&self) -> bool {
        self.protocol == Protocol::Native
    }

    /// What a frame without a payload is.
    pub fn classify(&self, frame: &[u8]) -> Inbound {
        match self.protocol {
            Protocol::Native => native::classify(frame),
            Protocol::Pusher => pusher::classify(frame),
        }
    }

    /// The answer to a protocol-level ping.
    pub fn pong_frame(&self) -> &'static str {
        pusher::PONG
    }
}

/// The node connection `index` opens on, of `nodes`: round robin, so
/// every node holds as many connections, within one.
pub fn node_of(index: usize, nodes: usize) -> usize {
    index % nodes.max(1)
}

/// The user id of connection `index`: `bench-{index}`.
pub fn user_of(index: usize) -> String {
    format!("bench-{index}")
}

/// Sends text frames and flushes once.
pub async fn send_all(ws: &mut Ws, frames: impl IntoIterator<Item = String>) -> Result<(), String> {
    for frame in frames {
        ws.queue_text(&frame);
    }
    ws.flush().await
}

/// The next text frame, answering WebSocket pings on the way.
pub async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await? {
            Message::Text(text) => return Ok(text),
            Message::Close(code) => return Err(format!("closed by the server: {code}")),
            Message::Binary(_) => {}
        }
    }
}

/// The first `limit` characters of a frame, for error messages.
pub fn excerpt(frame: &str) -> String {
    const LIMIT: usize = 200;
    match frame.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &frame[..at]),
        None => frame.to_owned(),
    }
}
