//! The run phase of one connection: reading every frame (recording
//! deliveries by a byte scan, counting acks, errors and closes, answering
//! pings) and, when the connection publishes, sending its paced
//! publications.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::{ActivePublisher, Tally};
use crate::pacing::Pacer;
use crate::payload;
use crate::protocol::ws::Frame;
use crate::protocol::{Client, Conn, Inbound, excerpt, send_all};

/// How long a connection waits for its close frame to go out at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

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
    /// Counts this connection among the publishers until it stops.
    pub active: ActivePublisher,
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
            read = conn.ws.fill() => {
                if let Err(error) = read {
                    break Ending::Broke(error);
                }
                // Every frame the read brought, parsed in place.
                let mut pongs = 0;
                let mut ended = None;
                loop {
                    let bytes = match conn.ws.frame() {
                        Ok(Some(Frame::Text(bytes))) => bytes,
                        Ok(Some(Frame::Binary(_))) => continue,
                        Ok(Some(Frame::Close(code))) => {
                            ended = Some(Ending::Closed(code));
                            break;
                        }
                        Ok(None) => break,
                        Err(error) => {
                            ended = Some(Ending::Broke(format!("protocol error: {error}")));
                            break;
                        }
                    };
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
                            let text = String::from_utf8_lossy(bytes);
                            tally.note_error(&format!("error reply: {}", excerpt(&text)));
                            if unanswered.pop_front().is_some() {
                                tally.failed(1);
                            }
                        }
                        Inbound::Ping => pongs += 1,
                        Inbound::Other => {}
                    }
                }
                for _ in 0..pongs {
                    conn.ws.queue_text(client.pong_frame());
                }
                // Pongs, to protocol pings and WebSocket pings, and the
                // answer to a close.
                if conn.ws.has_output()
                    && let Err(error) = conn.ws.flush().await
                    && ended.is_none()
                {
                    break Ending::Broke(error);
                }
                if let Some(ended) = ended {
                    break ended;
                }
            }
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
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
        }
        Ending::Closed(code) => tally.closed(code),
        Ending::Broke(_) if shared.end.is_cancelled() => {}
        Ending::Broke(error) => {
            tally.dropped();
            tally.note_error(&format!("connection broke: {error}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as T;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    use super::*;
    use crate::credentials::Credentials;
    use crate::protocol::{Protocol, pusher};
    use crate::socket::Dialer;
    use crate::target::Target;

    /// A fake Pusher server that sends 1,000 publications to its one
    /// connection, dropping every tenth, with a Pusher ping and a WebSocket
    /// ping among them, waits for both pongs, then closes with 4201.
    #[tokio::test]
    async fn a_server_dropping_every_tenth_message_is_reported_as_ten_percent_loss() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
            let established = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#;
            ws.feed(T::text(established)).await.unwrap();
            // Sent at once, with the handshake's last frame: nothing read
            // along with it may be lost.
            let now = payload::unix_nanos();
            for seq in 0..1000u64 {
                if seq == 500 {
                    ws.feed(T::text(r#"{"event":"pusher:ping","data":{}}"#))
                        .await
                        .unwrap();
                    ws.feed(T::Ping(b"ws".to_vec().into())).await.unwrap();
                }
                if seq % 10 == 9 {
                    continue;
                }
                let data = payload::as_json_string(&payload::build(now, seq, 100));
                let frame = format!(r#"{{"event":"bench","channel":"bench-0","data":{data}}}"#);
                ws.feed(T::text(frame)).await.unwrap();
            }
            ws.flush().await.unwrap();
            let (mut pusher_pong, mut ws_pong) = (false, false);
            while !(pusher_pong && ws_pong) {
                match ws.next().await.unwrap().unwrap() {
                    T::Text(text) if text.as_str() == pusher::PONG => pusher_pong = true,
                    T::Pong(data) if data.as_ref() == b"ws" => ws_pong = true,
                    _ => {}
                }
            }
            ws.send(T::Close(Some(CloseFrame {
                code: 4201.into(),
                reason: "slow".into(),
            })))
            .await
            .unwrap();
            // The client answers the close.
            loop {
                match ws.next().await {
                    Some(Ok(T::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                }
            }
        });
        let credentials = Credentials {
            app_id: "1".into(),
            app_key: Some("key".into()),
            app_secret: Some("secret".into()),
            api_key: None,
        };
        let target = Target::resolve(&format!("http://{addr}")).await.unwrap();
        let client = Client::new(
            Protocol::Pusher,
            vec![(target, Dialer::new(addr, None))],
            credentials,
            Duration::from_secs(60),
            Duration::from_secs(10),
        )
        .unwrap();
        let conn = client.open(0).await.unwrap();
        assert_eq!(conn.socket_id, "1.2");
        let tally = Arc::new(Tally::new(1));
        // What the publisher would count: 1,000 publications accepted, one
        // delivery each.
        tally.sent(1000);
        tally.accepted(1000, 1000);
        let shared = Arc::new(Shared {
            client: Arc::new(client),
            tally: tally.clone(),
            end: CancellationToken::new(),
        });
        tokio::time::timeout(Duration::from_secs(10), drive(conn, shared, None))
            .await
            .expect("the connection ends when the server closes it");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        let snapshot = tally.snapshot();
        assert_eq!(snapshot.expected, 1000);
        assert_eq!(snapshot.delivered, 900);
        assert!((snapshot.loss() - 0.1).abs() < 1e-12, "{}", snapshot.loss());
        assert_eq!(tally.close_codes().get(&4201), Some(&1));
        assert!(tally.errors().is_empty(), "{:?}", tally.errors());
    }
}
