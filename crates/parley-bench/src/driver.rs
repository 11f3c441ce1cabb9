//! The run phase of one connection: reading every frame (recording
//! deliveries by a byte scan, counting acks, errors and closes, answering
//! pings) and, when the connection publishes, sending its paced
//! publications.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::metrics::Tally;
use crate::pacing::Pacer;
use crate::payload;
use crate::protocol::{Client, Conn, Inbound, excerpt, send_all};

/// How long a connection waits for its close frame to go out at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The close code recorded when the server closes without one.
const NO_STATUS: u16 = 1005;

/// What every connection of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// The protocol client.
    pub client: Arc<Client>,
    /// The counters.
    pub tally: Arc<Tally>,
    /// Cancelled when the run ends: connections close.
    pub end: CancellationToken,
}

/// Publishing from one connection.
#[derive(Debug)]
pub struct Publishing {
    /// The channels this connection publishes to, in turn.
    pub channels: Vec<String>,
    /// Its schedule.
    pub pacer: Pacer,
    /// When publishing stops.
    pub deadline: Instant,
    /// Size of each payload.
    pub payload_bytes: usize,
    /// Deliveries an accepted publication to each channel should cause,
    /// by position in `channels`.
    pub fanouts: Vec<u64>,
    /// The sequence number of its first publication.
    pub first_seq: u64,
    /// The step between its sequence numbers.
    pub seq_step: u64,
}

/// Why a connection's loop ended.
enum Ending {
    /// The run ended.
    RunOver,
    /// The server closed the connection with this code.
    Closed(u16),
    /// The connection broke.
    Broke(String),
}

/// Drives `conn` until the run ends or the server closes it.
pub async fn drive(mut conn: Conn, shared: Arc<Shared>, mut publishing: Option<Publishing>) {
    let client = &shared.client;
    let tally = &shared.tally;
    let shard = tally.shard(conn.index);
    let acked = client.acks_publications();
    let mut seq = publishing.as_ref().map_or(0, |p| p.first_seq);
    // The fanouts of publications sent and not yet answered, in order: a
    // server answers one connection's commands in the order sent.
    let mut unanswered: VecDeque<u64> = VecDeque::new();
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    // Made once: a cancellation future made per frame would register with
    // the token (under its lock) for every delivery.
    let run_over = shared.end.cancelled();
    tokio::pin!(run_over);
    let ending = loop {
        let now = Instant::now();
        if publishing
            .as_ref()
            .is_some_and(|p| p.pacer.finished() || now >= p.deadline)
        {
            publishing = None;
        }
        if let Some(publishing) = &publishing {
            let wake = publishing.pacer.next_at(now).min(publishing.deadline);
            if timer.deadline() != wake {
                timer.as_mut().reset(wake);
            }
        }
        tokio::select! {
            biased;
            () = &mut run_over => break Ending::RunOver,
            message = conn.ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let bytes = text.as_bytes();
                    if shard.record_frame(bytes) {
                        continue;
                    }
                    match client.classify(bytes) {
                        // Acks may come after publishing stopped; they count.
                        Inbound::Ack => {
                            if let Some(fanout) = unanswered.pop_front() {
                                tally.accepted(1, fanout);
                            }
                        }
                        Inbound::Error => {
                            tally.error_reply();
                            tally.note_error(&format!("error reply: {}", excerpt(text.as_str())));
                            if unanswered.pop_front().is_some() {
                                tally.failed(1);
                            }
                        }
                        Inbound::Ping => {
                            let pong = Message::text(client.pong_frame());
                            if let Err(error) = conn.ws.send(pong).await {
                                break Ending::Broke(error.to_string());
                            }
                        }
                        Inbound::Other => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break Ending::Closed(frame.map_or(NO_STATUS, |frame| u16::from(frame.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => break Ending::Broke(error.to_string()),
                None => break Ending::Broke("connection closed".to_owned()),
            },
            () = &mut timer, if publishing.is_some() => {
                let Some(p) = &mut publishing else { continue };
                let due = p.pacer.due(Instant::now());
                if due == 0 {
                    continue;
                }
                let mut frames = Vec::with_capacity(due as usize);
                let mut fanouts = 0;
                for _ in 0..due {
                    let at = (seq % p.channels.len() as u64) as usize;
                    let data = payload::build(payload::unix_nanos(), seq, p.payload_bytes);
                    frames.push(client.publish_frame(&mut conn, &p.channels[at], &data));
                    if acked {
                        unanswered.push_back(p.fanouts[at]);
                    } else {
                        fanouts += p.fanouts[at];
                    }
                    seq += p.seq_step;
                }
                tally.sent(due);
                p.pacer.done(due);
                if let Err(error) = send_all(&mut conn.ws, frames).await {
                    break Ending::Broke(error);
                }
                if !acked {
                    // A protocol without acks: accepted once sent.
                    tally.accepted(due, fanouts);
                }
            }
        }
    };
    // Publications the server will never answer now.
    tally.failed(unanswered.len() as u64);
    match ending {
        Ending::RunOver => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close(None)).await;
        }
        Ending::Closed(code) => tally.closed(code),
        Ending::Broke(_) if shared.end.is_cancelled() => {}
        Ending::Broke(error) => {
            tally.dropped();
            tally.note_error(&format!("connection broke: {error}"));
        }
    }
}
