//! The task that serves one WebSocket connection, whatever protocol it
//! speaks: reads frames into a [`Session`], writes the client's queued
//! frames in batches, pings, and closes with the session's close code.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use parley_core::{COUNTERS, ClientHandle, Counters, Disconnect, Frame};
use tokio_util::sync::CancellationToken;

/// What a wire protocol does with one connection. The connection task calls
/// it; it never touches the socket itself.
pub trait Session: Send {
    /// The connection's shared handle, whose queue the task drains.
    fn client(&self) -> &Arc<ClientHandle>;
    /// Handles one text frame. Replies go to the client's queue. Returns a
    /// reason to close the connection, if any.
    fn on_text(&mut self, text: &str) -> impl Future<Output = Option<Disconnect>> + Send;
    /// Called once per ping interval in which the client proved alive (sent
    /// any frame), to renew what the connection holds by lease.
    fn on_alive(&mut self) -> impl Future<Output = ()> + Send;
    /// Called after the task wrote what was queued, so a session that
    /// pages a long answer into the queue (a replay) can queue its next
    /// page.
    fn on_written(&mut self) {}
    /// Handles a binary frame, which no protocol accepts.
    fn on_binary(&mut self) -> Option<Disconnect>;
    /// Handles a text frame over the frame limit (but under twice the limit,
    /// past which the socket refuses to read it).
    fn on_oversized(&mut self, text: &str) -> Option<Disconnect>;
    /// When the session wants [`Session::on_deadline`] called.
    fn deadline(&self) -> Option<Instant>;
    /// Called at the deadline; returns a reason to close, if any.
    fn on_deadline(&mut self) -> Option<Disconnect>;
    /// The close code for `reason`, and a frame to send before closing.
    fn goodbye(&self, reason: Disconnect) -> (u16, Option<Frame>);
    /// Releases everything the connection held in the node.
    fn finish(self) -> impl Future<Output = ()> + Send;
}

/// Timing and size limits of the connection task.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How often to ping.
    pub ping_interval: Duration,
    /// How long to wait for any frame after a ping.
    pub pong_timeout: Duration,
    /// How long one batched write may take.
    pub write_timeout: Duration,
    /// The largest text frame handed to the session.
    pub max_frame_bytes: usize,
}

/// How the connection ended.
enum End {
    /// The server closes, for this reason.
    Server(Disconnect),
    /// The client sent what the WebSocket layer refuses (RFC 6455's "fail
    /// the WebSocket connection"): a close frame with this standard code
    /// and reason, and nothing else, since the client may not understand
    /// the protocol's own frames.
    Failed { code: u16, reason: String },
    /// The client closed, or the socket broke: nothing more to send.
    Gone,
}

/// RFC 6455's close code for a protocol violation (an unmasked client frame,
/// a reserved opcode or bit, a fragmented control frame).
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// RFC 6455's close code for data that does not match its type: a text
/// frame (or close reason) that is not UTF-8.
const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// A close reason is at most 123 bytes: a control frame's 125 less the code.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Serves one connection until it ends, then releases it.
pub async fn serve<S: Session>(
    mut socket: WebSocket,
    mut session: S,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let client = session.client().clone();
    let mut batch: Vec<Frame> = Vec::new();
    let mut last_seen = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    let mut next_ping = Instant::now() + limits.ping_interval;
    let timer = tokio::time::sleep_until(next_ping.into());
    tokio::pin!(timer);
    // Built once: re-creating it on every turn of the loop shows in profiles.
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);

    let end = loop {
        // One timer for everything due: the next ping, the pong deadline and
        // the session's own deadline.
        let pong_due = ping_sent
            .filter(|sent| last_seen < *sent)
            .map(|sent| sent + limits.pong_timeout);
        let due = [Some(next_ping), pong_due, session.deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_ping);
        if timer.deadline() != due.into() {
            timer.as_mut().reset(due.into());
        }

        tokio::select! {
            biased;
            () = &mut shutdown => break End::Server(Disconnect::Shutdown),
            () = client.queue().ready() => {
                let closed = client.queue().drain_into(&mut batch);
                if !batch.is_empty() && write_batch(&mut socket, &mut batch, limits.write_timeout).await.is_err() {
                    break End::Gone;
                }
                if let Some(reason) = closed {
                    break End::Server(reason);
                }
                session.on_written();
            }
            message = socket.recv() => {
                last_seen = Instant::now();
                let outcome = match message {
                    Some(Ok(Message::Text(text))) if text.len() > limits.max_frame_bytes => session.on_oversized(&text),
                    Some(Ok(Message::Text(text))) => {
                        Counters::add(&COUNTERS.bytes_in, text.len() as u64);
                        // Boxed, as on_alive and finish below: the handlers'
                        // futures hold every command's state (KiBs), and
                        // inline they would make each idle connection's
                        // task that big; boxed, the memory is taken only
                        // while a frame is handled.
                        Box::pin(session.on_text(&text)).await
                    }
                    Some(Ok(Message::Binary(_))) => session.on_binary(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | None => break End::Gone,
                    Some(Err(error)) => {
                        tracing::debug!(client = %client.id, %error, "read failed");
                        break read_failure(&error);
                    }
                };
                if let Some(reason) = outcome {
                    break End::Server(reason);
                }
            }
            () = &mut timer => {
                let now = Instant::now();
                if pong_due.is_some_and(|due| due <= now) {
                    break End::Server(Disconnect::NoPong);
                }
                if let Some(reason) = session.on_deadline() {
                    break End::Server(reason);
                }
                if next_ping <= now {
                    next_ping = now + limits.ping_interval;
                    // Alive if anything arrived since the previous ping.
                    if ping_sent.is_none_or(|sent| last_seen >= sent) {
                        ping_sent = Some(now);
                        Box::pin(session.on_alive()).await;
                    }
                    let ping = tokio::time::timeout(limits.write_timeout, socket.send(Message::Ping(Default::default())));
                    if !matches!(ping.await, Ok(Ok(()))) {
                        break End::Gone;
                    }
                }
            }
        }
    };

    match end {
        End::Server(reason) => {
            client.disconnect(reason);
            tracing::debug!(client = %client.id, ?reason, "closing connection");
            close(
                &mut socket,
                &session,
                reason,
                &mut batch,
                limits.write_timeout,
            )
            .await;
        }
        End::Failed { code, reason } => {
            tracing::debug!(client = %client.id, code, reason, "failing connection");
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            let send = socket.send(Message::Close(Some(frame)));
            let _ = tokio::time::timeout(limits.write_timeout, send).await;
        }
        End::Gone => {}
    }
    Box::pin(session.finish()).await;
}

/// Sends what is still queued (unless the client was too slow for it), the
/// session's goodbye frame and the close frame, bounded by `timeout`.
async fn close<S: Session>(
    socket: &mut WebSocket,
    session: &S,
    reason: Disconnect,
    batch: &mut Vec<Frame>,
    timeout: Duration,
) {
    if reason != Disconnect::Slow {
        session.client().queue().drain_into(batch);
    }
    let (code, goodbye) = session.goodbye(reason);
    batch.extend(goodbye);
    let closing = async {
        if !batch.is_empty() {
            write_frames(socket, batch).await?;
        }
        socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason.reason()),
            })))
            .await?;
        // Complete the closing handshake: wait for the client's close frame
        // (or the end of the stream) before dropping the socket, so the
        // close frame is not lost to a TCP reset over unread input.
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
        Ok::<(), axum::Error>(())
    };
    let _ = tokio::time::timeout(timeout.min(CLOSE_HANDSHAKE_TIMEOUT), closing).await;
}

/// How long a closing connection waits for the client's close frame.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes a batch of frames with one flush.
async fn write_batch(
    socket: &mut WebSocket,
    batch: &mut Vec<Frame>,
    timeout: Duration,
) -> Result<(), ()> {
    match tokio::time::timeout(timeout, write_frames(socket, batch)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn write_frames(socket: &mut WebSocket, batch: &mut Vec<Frame>) -> Result<(), axum::Error> {
    let mut bytes = 0;
    for frame in batch.drain(..) {
        bytes += frame.len();
        let text =
            Utf8Bytes::try_from(frame.into_bytes()).expect("frames are UTF-8 by construction");
        socket.feed(Message::Text(text)).await?;
    }
    Counters::add(&COUNTERS.bytes_out, bytes as u64);
    socket.flush().await
}

/// How a read error ends the connection: a frame too large is the
/// session's own close (its protocol has a code for it); invalid UTF-8 and
/// protocol violations fail the connection with RFC 6455's codes; anything
/// else means the socket is gone.
fn read_failure(error: &axum::Error) -> End {
    use std::error::Error as _;
    use tungstenite::error::ProtocolError;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(error) = cause.downcast_ref::<tungstenite::Error>() {
            return match error {
                tungstenite::Error::Capacity(_) => End::Server(Disconnect::FrameTooLarge),
                tungstenite::Error::Utf8(_) => End::Failed {
                    code: CLOSE_INVALID_PAYLOAD,
                    reason: "invalid UTF-8 in a text frame".to_owned(),
                },
                // The peer went away or the state is already closed: there
                // is no one to tell.
                tungstenite::Error::Protocol(
                    ProtocolError::ResetWithoutClosingHandshake
                    | ProtocolError::SendAfterClosing
                    | ProtocolError::ReceivedAfterClosing,
                ) => End::Gone,
                tungstenite::Error::Protocol(violation) => End::Failed {
                    code: CLOSE_PROTOCOL_ERROR,
                    reason: close_reason(&format!("protocol error: {violation}")),
                },
                _ => End::Gone,
            };
        }
        source = cause.source();
    }
    End::Gone
}

/// `text` cut to what a close frame can carry, at a character boundary.
fn close_reason(text: &str) -> String {
    let mut end = text.len().min(MAX_CLOSE_REASON_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
