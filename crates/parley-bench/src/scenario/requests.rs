//! The requests of one writer of the `chat` and `docs` scenarios, and what
//! the writer does with their answers. A server answers one connection's
//! commands in the order sent, so an acknowledgement or an error reply
//! answers the oldest request in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::metrics::{Tally, latency_histogram};
use crate::protocol::{Client, Conn, Inbound, Message, excerpt};

/// How long a connection waits for its close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// What one writer sent and how it was answered.
#[derive(Debug)]
pub(super) struct Requests {
    pub(super) sent: u64,
    pub(super) acked: u64,
    pub(super) refused: u64,
    pub(super) unanswered: u64,
    /// Send to acknowledgement, µs.
    pub(super) ack_time: Histogram<u64>,
    /// When each request not answered yet was sent, oldest first.
    in_flight: VecDeque<Instant>,
}

impl Requests {
    pub(super) fn new() -> Self {
        Self {
            sent: 0,
            acked: 0,
            refused: 0,
            unanswered: 0,
            ack_time: latency_histogram(),
            in_flight: VecDeque::new(),
        }
    }

    /// Notes `count` requests sent now.
    pub(super) fn sent_now(&mut self, count: u64) {
        let now = Instant::now();
        self.in_flight.extend(std::iter::repeat_n(
            now,
            usize::try_from(count).unwrap_or(0),
        ));
        self.sent += count;
    }

    /// How many requests wait for their answer.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Gives up on the requests still in flight: they count as unanswered.
    pub(super) fn give_up(&mut self) {
        self.unanswered = self.in_flight.len() as u64;
    }
}

/// Where a writer's answers are counted: the run's tally, and the progress
/// line's counters.
pub(super) struct Answers<'a> {
    pub(super) client: &'a Client,
    pub(super) tally: &'a Tally,
    pub(super) acked: &'a AtomicU64,
    /// The progress line's count of refusals, where it shows one.
    pub(super) refused: Option<&'a AtomicU64>,
}

impl Answers<'_> {
    /// Takes what `conn` received: an acknowledgement or an error reply
    /// answers the oldest request, a ping is answered. Returns false when
    /// the connection ended (the server closed it, or it broke), having
    /// given up on the requests in flight.
    pub(super) async fn take(
        &self,
        conn: &mut Conn,
        message: Result<Message, String>,
        requests: &mut Requests,
    ) -> bool {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(_)) => return true,
            Ok(Message::Close(code)) => {
                self.tally.closed(code);
                requests.give_up();
                return false;
            }
            Err(error) => {
                self.broke(&error);
                requests.give_up();
                return false;
            }
        };
        match self.client.classify(text.as_bytes()) {
            Inbound::Ack => {
                if let Some(sent_at) = requests.in_flight.pop_front() {
                    let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                    requests.ack_time.saturating_record(micros.max(1));
                    requests.acked += 1;
                    self.acked.fetch_add(1, Relaxed);
                    self.tally.accepted(1, 0);
                }
            }
            Inbound::Error => {
                self.tally.error_reply();
                self.tally
                    .note_error(&format!("error reply: {}", excerpt(&text)));
                if requests.in_flight.pop_front().is_some() {
                    requests.refused += 1;
                    if let Some(refused) = self.refused {
                        refused.fetch_add(1, Relaxed);
                    }
                    self.tally.failed(1);
                }
            }
            Inbound::Ping => {
                if let Err(error) = conn.ws.send_text(self.client.pong_frame()).await {
                    self.broke(&error);
                    requests.give_up();
                    return false;
                }
            }
            Inbound::Other => {}
        }
        true
    }

    /// Counts a connection that broke.
    pub(super) fn broke(&self, error: &str) {
        self.tally.dropped();
        self.tally.note_error(&format!("connection broke: {error}"));
    }

    /// Ends a writer's run: counts what was never answered and closes
    /// `conn` (bounded).
    pub(super) async fn finish(&self, mut conn: Conn, requests: &Requests) {
        self.tally.failed(requests.unanswered);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
    }
}
