//! Delivering each channel in offset order.
//!
//! Each channel a node listens to remembers the position it delivered last.
//! The next offset is delivered at once and a repeated one skipped. A later
//! one means something is missing:
//!
//! - in a channel whose stream is in Redis, the publish script kept the
//!   missing publications in the history before publishing them, so the
//!   node reads them from there at once;
//! - in a persisted channel, another node may still be relaying an earlier
//!   commit: the later publication waits (at most [`HOLD`]) for it, then
//!   the node reads what is still missing from the store, which has every
//!   committed publication.
//!
//! After a reconnect every channel catches up the same way. When what is
//! missing cannot be read any more (the history was trimmed or expired),
//! the node's subscribers of the channel are told through
//! [`BrokerEventHandler::handle_gap`](parley_core::BrokerEventHandler::handle_gap),
//! which closes them with a code that says "reconnect and recover".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parley_core::{BackendError, ChannelName, Publication, StreamPosition, StreamSlice};
use tokio::time::Instant;

use crate::subscriber::Subscriptions;

/// How long a persisted channel's publication waits for earlier ones still
/// being relayed, before they are read from the store.
pub(crate) const HOLD: Duration = Duration::from_millis(250);

/// Publications one channel holds at most while it waits; past it, the
/// missing ones are read at once.
const MAX_PENDING: usize = 10_000;

/// The most missed publications a channel catches up on from its history;
/// past it, the gap is reported instead. (The store reads at most its own
/// recovery limit, 1,000.)
const CATCH_UP_LIMIT: usize = 10_000;

/// How often reading what a channel missed is tried before the gap is
/// reported.
const READ_ATTEMPTS: u32 = 4;

/// One channel the node listens to.
pub(crate) struct Listened {
    pub(crate) app: Arc<str>,
    pub(crate) channel: ChannelName,
    /// Whether the channel's stream is the store's (a persisted namespace).
    pub(crate) persisted: bool,
    /// Subscribe calls not yet matched by an unsubscribe: the node's local
    /// subscribers of the channel. The topic is listened to while any is
    /// left, so the calls of a quick leave and re-join may come in either
    /// order.
    pub(crate) wanted: usize,
    /// Whether the topic is subscribed on this node's connection; held
    /// across the SUBSCRIBE or UNSUBSCRIBE round trip, so one channel's
    /// reach Redis in the order the node asked for them (other channels'
    /// proceed meanwhile).
    pub(crate) gate: Arc<tokio::sync::Mutex<bool>>,
    /// The position this node delivered last; `None` until it is known.
    pub(crate) delivered: Option<StreamPosition>,
    /// Publications of a persisted channel that came before earlier ones,
    /// by offset.
    pub(crate) pending: BTreeMap<u64, Arc<Publication>>,
    /// When the wait for the missing ones ends.
    pub(crate) hold_until: Option<Instant>,
}

/// What to do with one publication.
enum Step {
    Deliver,
    Skip,
    Hold,
    CatchUp,
}

impl Subscriptions {
    /// Delivers a publication of `topic`'s channel in its offset order.
    pub(crate) async fn on_publication(
        &self,
        topic: &str,
        app: Arc<str>,
        publication: Arc<Publication>,
    ) {
        let step = {
            let mut channels = self.channels.lock();
            let Some(listened) = channels.get_mut(topic) else {
                // Not listened to (any more): no local subscriber.
                return;
            };
            let position = &publication.position;
            let step = match &listened.delivered {
                None => Step::Deliver,
                // The stream started over after it went unused: its first
                // publication follows on.
                Some(last) if last.epoch != position.epoch => {
                    if position.offset == 1 {
                        Step::Deliver
                    } else {
                        Step::CatchUp
                    }
                }
                Some(last) if position.offset <= last.offset => Step::Skip,
                Some(last) if position.offset == last.offset + 1 => Step::Deliver,
                Some(_) if listened.persisted && listened.pending.len() < MAX_PENDING => Step::Hold,
                Some(_) => Step::CatchUp,
            };
            match step {
                Step::Deliver => listened.delivered = Some(position.clone()),
                Step::Hold => {
                    listened
                        .pending
                        .insert(position.offset, publication.clone());
                    listened.hold_until.get_or_insert(Instant::now() + HOLD);
                }
                Step::Skip | Step::CatchUp => {}
            }
            step
        };
        match step {
            Step::Deliver => {
                self.handler.handle_publication(&app, publication);
                self.release(topic);
            }
            Step::Skip | Step::Hold => {}
            // What is missing, and this publication, come from the stream.
            Step::CatchUp => self.catch_up(topic).await,
        }
    }

    /// Delivers the held publications that now follow on, and drops those
    /// already delivered.
    fn release(&self, topic: &str) {
        loop {
            let next = {
                let mut channels = self.channels.lock();
                let Some(listened) = channels.get_mut(topic) else {
                    return;
                };
                let Some(last) = listened.delivered.as_ref().map(|last| last.offset) else {
                    return;
                };
                while let Some(entry) = listened.pending.first_entry()
                    && *entry.key() <= last
                {
                    entry.remove();
                }
                match listened.pending.first_entry() {
                    Some(entry) if *entry.key() == last + 1 => {
                        let publication = entry.remove();
                        listened.delivered = Some(publication.position.clone());
                        Some((listened.app.clone(), publication))
                    }
                    _ => {
                        if listened.pending.is_empty() {
                            listened.hold_until = None;
                        }
                        None
                    }
                }
            };
            match next {
                Some((app, publication)) => self.handler.handle_publication(&app, publication),
                None => return,
            }
        }
    }

    /// When the earliest hold ends, if any channel holds publications.
    pub(crate) fn next_hold(&self) -> Option<Instant> {
        self.channels
            .lock()
            .values()
            .filter_map(|listened| listened.hold_until)
            .min()
    }

    /// Reads what the channels whose hold ended still miss.
    pub(crate) async fn expire_holds(&self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .channels
            .lock()
            .iter()
            .filter(|(_, listened)| listened.hold_until.is_some_and(|until| until <= now))
            .map(|(topic, _)| topic.clone())
            .collect();
        for topic in expired {
            self.catch_up(&topic).await;
        }
    }

    pub(crate) async fn catch_up_all(&self) {
        let topics: Vec<String> = self.channels.lock().keys().cloned().collect();
        for topic in topics {
            self.catch_up(&topic).await;
        }
    }

    /// Delivers what the channel's stream holds after the position this
    /// node delivered last, then what it held that follows on; reports a
    /// gap when the stream no longer holds all of it.
    async fn catch_up(&self, topic: &str) {
        let Some((app, channel, persisted, last)) =
            self.channels.lock().get(topic).map(|listened| {
                (
                    listened.app.clone(),
                    listened.channel.clone(),
                    listened.persisted,
                    listened.delivered.clone(),
                )
            })
        else {
            return;
        };
        let Some(last) = last else {
            return;
        };
        let slice = match self
            .read_missed(&app, &channel, persisted, last.offset)
            .await
        {
            Ok(slice) => slice,
            Err(error) => {
                tracing::warn!(node = %self.node, %channel, %error, "cannot read what was missed");
                if let Some(listened) = self.channels.lock().get_mut(topic) {
                    listened.delivered = None;
                    listened.pending.clear();
                    listened.hold_until = None;
                }
                self.report_gap(&app, &channel);
                return;
            }
        };
        let recovered = slice.complete && slice.position.epoch == last.epoch;
        if let Some(listened) = self.channels.lock().get_mut(topic) {
            listened.delivered = Some(slice.position.clone());
            if !recovered {
                listened.pending.clear();
                listened.hold_until = None;
            }
        }
        if !recovered {
            self.report_gap(&app, &channel);
            return;
        }
        if !slice.publications.is_empty() {
            self.connector.metrics().catch_ups.increment(1);
        }
        for publication in slice.publications {
            self.handler.handle_publication(&app, publication);
        }
        self.release(topic);
        // Held publications past what was read (they were published after
        // the read) wait again.
        if let Some(listened) = self.channels.lock().get_mut(topic)
            && !listened.pending.is_empty()
        {
            listened.hold_until = Some(Instant::now() + HOLD);
        }
    }

    /// Tells the node its subscribers of `channel` missed publications that
    /// cannot be delivered any more, counting the gap and the closes.
    fn report_gap(&self, app: &str, channel: &ChannelName) {
        let metrics = self.connector.metrics();
        metrics.gaps.increment(1);
        let closed = self.handler.handle_gap(app, channel);
        metrics.gap_disconnects.increment(closed as u64);
    }

    /// Reads what a channel's stream holds after `after`. Tried a few
    /// times: right after Redis comes back, the command connection may not
    /// have reconnected yet.
    async fn read_missed(
        &self,
        app: &str,
        channel: &ChannelName,
        persisted: bool,
        after: u64,
    ) -> Result<StreamSlice, BackendError> {
        let mut wait = Duration::from_millis(100);
        let mut attempts = 1;
        loop {
            match self
                .read_stream(app, channel, persisted, after, CATCH_UP_LIMIT)
                .await
            {
                Ok(slice) => return Ok(slice),
                Err(error) if attempts >= READ_ATTEMPTS => return Err(error),
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempts += 1;
                }
            }
        }
    }

    /// A read of a channel's stream as far as this node delivered it, for
    /// a client that subscribes here: it reads its position and what it
    /// missed from this, and gets the rest live. Read straight from Redis
    /// or the store, the position could be ahead of what this node
    /// delivered (a message on its way, a commit still being relayed), and
    /// the client would get those offsets twice: in the replay and live.
    pub(crate) async fn read_delivered(
        &self,
        app: &str,
        channel: &ChannelName,
        after: u64,
        limit: usize,
    ) -> Result<StreamSlice, BackendError> {
        let topic = self.streams.topic(app, channel);
        let persisted = self
            .committed
            .as_ref()
            .is_some_and(|committed| committed.holds(app, channel));
        let slice = self
            .read_stream(app, channel, persisted, after, limit)
            .await?;
        let delivered = self
            .channels
            .lock()
            .get(&topic)
            .and_then(|listened| listened.delivered.clone());
        Ok(match delivered {
            Some(delivered) => slice.cut_at(after, &delivered),
            None => slice,
        })
    }

    /// The channel's stream: the store's for a persisted channel, Redis'
    /// otherwise.
    pub(crate) async fn read_stream(
        &self,
        app: &str,
        channel: &ChannelName,
        persisted: bool,
        after: u64,
        limit: usize,
    ) -> Result<StreamSlice, BackendError> {
        match (&self.committed, persisted) {
            (Some(committed), true) => {
                committed
                    .streams()
                    .recover(app, channel, after, limit)
                    .await
            }
            _ => self.streams.read(app, channel, after, limit).await,
        }
    }
}
