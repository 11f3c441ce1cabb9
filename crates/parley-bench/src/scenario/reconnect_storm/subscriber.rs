//! One client of a reconnect storm. It subscribes to its channel and
//! follows the stream; at each storm it drops its connection without a
//! close frame, waits its share of the spread, reconnects, subscribes again
//! from its last stream position (native `since`) and takes the replay.
//! Between storms it checks every offset, so a gap where the replay meets
//! the live publications shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

use super::comeback::{Comeback, Record};
use super::reader::{Event, Until};
use super::storm::{Shared, StormSignal};
use super::stream::Stream;
use crate::protocol::Conn;
use crate::protocol::native::{Position, SubscribeReply};

/// How long a connection waits for its close frame to go out at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The first pause after a failed reconnect; it doubles up to
/// [`LAST_RETRY`], as clients back off.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(1);

/// Why a comeback failed.
enum Setback {
    /// Try again (the connection failed or broke).
    Retry(String),
    /// The server refused the subscription: trying again will not help.
    Refused(String),
    /// The run ended.
    RunOver,
}

/// One client.
pub struct Subscriber {
    /// Its number in the run.
    pub index: usize,
    /// The channel it follows.
    pub channel: String,
    /// What every client shares.
    pub shared: Arc<Shared>,
    /// Where it is in the channel's stream.
    pub(super) stream: Stream,
}

impl Subscriber {
    /// Client `index`, following `channel`.
    pub fn new(index: usize, channel: String, shared: Arc<Shared>) -> Self {
        Self {
            index,
            channel,
            shared,
            stream: Stream::default(),
        }
    }

    /// Subscribes, then follows the stream through every storm until the
    /// run ends.
    pub async fn run(mut self, mut conn: Conn) -> Record {
        let storms = self.shared.storms.len();
        let mut record = Record {
            comebacks: vec![Comeback::default(); storms],
            ..Record::default()
        };
        let first = tokio::time::timeout(
            self.shared.client.step_timeout,
            self.subscribe(&mut conn, None),
        )
        .await
        .unwrap_or_else(|_| Err(Setback::Retry("no subscribe reply in time".into())));
        match first {
            Ok(_) => {}
            Err(Setback::RunOver) => {
                self.shared.alive.fetch_sub(1, Relaxed);
                return record;
            }
            Err(Setback::Retry(error) | Setback::Refused(error)) => {
                self.shared.tally.note_error(&format!("subscribe: {error}"));
                self.shared.unsubscribed.fetch_add(1, Relaxed);
                self.shared.alive.fetch_sub(1, Relaxed);
                return record;
            }
        }
        self.shared.subscribed.fetch_add(1, Relaxed);
        let mut next = 0;
        let mut mark = 0;
        loop {
            let until = Until::Storm((next < storms).then_some(next));
            match self.read(&mut conn, until).await {
                Event::Drop => {
                    self.attribute_gaps(&mut record, next, mark);
                    mark = self.stream.gaps;
                    // Abruptly: the socket closes with no close frame.
                    drop(conn);
                    let comeback = &mut record.comebacks[next];
                    comeback.took_part = true;
                    let back = self.storm(next, comeback).await;
                    next += 1;
                    match back {
                        Some(back) => conn = back,
                        None => break,
                    }
                }
                Event::RunOver => {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
                    break;
                }
                Event::Lost(error) => {
                    // A real client comes back at once, and so does this
                    // one; it is counted, outside the storms.
                    record.unplanned += 1;
                    self.shared
                        .tally
                        .note_error(&format!("connection lost: {error}"));
                    let now = Instant::now();
                    let mut unplanned = Comeback::default();
                    let deadline = now + self.shared.limit;
                    match self.come_back(now, deadline, &mut unplanned, None).await {
                        Some(back) => conn = back,
                        None => break,
                    }
                }
                Event::Subscribed(_) | Event::CaughtUp | Event::Refused(_) => {}
            }
        }
        self.attribute_gaps(&mut record, next, mark);
        record.duplicates = self.stream.duplicates;
        record.new_epochs = self.stream.new_epochs;
        self.shared.alive.fetch_sub(1, Relaxed);
        record
    }

    /// Charges the gaps since `mark` to the storm before storm `next`.
    fn attribute_gaps(&self, record: &mut Record, next: usize, mark: u64) {
        let gaps = self.stream.gaps - mark;
        match next.checked_sub(1) {
            Some(storm) => record.comebacks[storm].gaps += gaps,
            None => record.gaps_before += gaps,
        }
    }

    /// Storm `k`: waits its share of the spread, then comes back.
    async fn storm(&mut self, k: usize, comeback: &mut Comeback) -> Option<Conn> {
        let shared = self.shared.clone();
        let signal = &shared.storms[k];
        let dropped = *signal
            .at
            .get()
            .expect("the drop time is set before the drop is signalled");
        comeback.waited = shared.spread.wait(self.index, k);
        tokio::select! {
            () = shared.end.cancelled() => return None,
            () = tokio::time::sleep_until(dropped + comeback.waited) => {}
        }
        let back = self
            .come_back(dropped, dropped + shared.limit, comeback, Some(signal))
            .await;
        match comeback.recovered {
            _ if comeback.caught_up.is_some() => signal.recovered.fetch_add(1, Relaxed),
            Some(_) => signal.not_recovered.fetch_add(1, Relaxed),
            None => 0,
        };
        if comeback.gave_up {
            signal.gave_up.fetch_add(1, Relaxed);
        }
        signal.settled.fetch_add(1, Relaxed);
        back
    }

    /// Reconnects and subscribes again until it works, backing off, or
    /// until `deadline` (then the client gives up). Counts into the
    /// storm's `signal` as it goes, when it is one.
    async fn come_back(
        &mut self,
        dropped: Instant,
        deadline: Instant,
        comeback: &mut Comeback,
        signal: Option<&StormSignal>,
    ) -> Option<Conn> {
        let mut pause = FIRST_RETRY;
        loop {
            let attempt = self.attempt(dropped, comeback, signal);
            let attempt = tokio::time::timeout_at(deadline, attempt);
            let error = match attempt.await {
                Ok(Ok(conn)) => return Some(conn),
                Ok(Err(Setback::RunOver)) => return None,
                Ok(Err(Setback::Refused(error))) => {
                    self.shared.tally.note_error(&format!("subscribe: {error}"));
                    comeback.gave_up = true;
                    return None;
                }
                Ok(Err(Setback::Retry(error))) => error,
                Err(_) => {
                    comeback.gave_up = true;
                    return None;
                }
            };
            self.shared.tally.note_error(&error);
            let wake = (Instant::now() + pause).min(deadline);
            pause = (pause * 2).min(LAST_RETRY);
            tokio::select! {
                () = self.shared.end.cancelled() => return None,
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// One attempt: the connection, the subscription from the last
    /// position, and the replay.
    async fn attempt(
        &mut self,
        dropped: Instant,
        comeback: &mut Comeback,
        signal: Option<&StormSignal>,
    ) -> Result<Conn, Setback> {
        let count = |counter: fn(&StormSignal) -> &AtomicUsize| {
            if let Some(signal) = signal {
                counter(signal).fetch_add(1, Relaxed);
            }
        };
        let mut conn = match self.shared.client.open(self.index).await {
            Ok(conn) => conn,
            Err(error) => {
                comeback.connect_failures += 1;
                if let Some(signal) = signal {
                    signal.connect_failures.fetch_add(1, Relaxed);
                }
                return Err(Setback::Retry(format!("reconnect: {error}")));
            }
        };
        if comeback.reconnected.is_none() {
            comeback.reconnected = Some(dropped.elapsed());
            count(|signal| &signal.reconnected);
        }
        let since = self.stream.position().cloned();
        let reply = self.subscribe(&mut conn, since.as_ref()).await?;
        if comeback.resubscribed.is_none() {
            comeback.resubscribed = Some(dropped.elapsed());
            count(|signal| &signal.resubscribed);
        }
        let (Some(reply), Some(since)) = (reply, since) else {
            // Pusher: subscribed again is all there is.
            return Ok(conn);
        };
        if reply.recovered != Some(true) {
            comeback.recovered = Some(false);
            if reply.position.epoch == since.epoch {
                comeback.unrecovered += reply.position.offset.saturating_sub(since.offset);
            }
            self.stream.place(reply.position);
            return Ok(conn);
        }
        comeback.recovered = Some(true);
        let up_to = reply.position.offset;
        let gaps = self.stream.gaps + self.stream.new_epochs;
        if up_to > since.offset {
            let mut replayed = 0;
            let event = self
                .read_counting(&mut conn, Until::CaughtUp(up_to), &mut replayed)
                .await;
            comeback.replayed += replayed;
            if let Some(signal) = signal {
                signal.replayed.fetch_add(replayed, Relaxed);
            }
            match event {
                Event::CaughtUp => {}
                Event::RunOver => return Err(Setback::RunOver),
                Event::Lost(error) => return Err(Setback::Retry(format!("replay: {error}"))),
                Event::Refused(error) => return Err(Setback::Refused(error)),
                Event::Subscribed(_) | Event::Drop => {}
            }
        }
        if self.stream.gaps + self.stream.new_epochs == gaps {
            comeback.caught_up = Some(dropped.elapsed());
        }
        Ok(conn)
    }

    /// Subscribes to the channel, from `since` when given, and places the
    /// stream at the reply's position when there is no replay to follow.
    async fn subscribe(
        &mut self,
        conn: &mut Conn,
        since: Option<&Position>,
    ) -> Result<Option<SubscribeReply>, Setback> {
        let frame = self
            .shared
            .client
            .stream_subscribe_frame(conn, &self.channel, since);
        conn.ws
            .send_text(&frame)
            .await
            .map_err(|error| Setback::Retry(format!("subscribe: {error}")))?;
        match self.read(conn, Until::Subscribed).await {
            Event::Subscribed(reply) => {
                if let (Some(reply), None) = (&reply, since) {
                    self.stream.place(reply.position.clone());
                }
                Ok(reply)
            }
            Event::Refused(error) => Err(Setback::Refused(error)),
            Event::RunOver => Err(Setback::RunOver),
            Event::Lost(error) => Err(Setback::Retry(format!("subscribe: {error}"))),
            Event::CaughtUp | Event::Drop => Err(Setback::Retry("no subscribe reply".into())),
        }
    }
}
