//! The in-memory broker: stream positions for a single node.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    BackendError, BoxFuture, Broker, BrokerEventHandler, ChannelName, ClientInfo, HistoryOptions,
    Publication, PublicationKind, StreamPosition, StreamSlice,
};

const SHARDS: usize = 64;

/// Streams by app, then by channel: a lookup borrows both names and
/// allocates nothing.
type StreamShard = Mutex<HashMap<Arc<str>, HashMap<ChannelName, Arc<Mutex<Stream>>>>>;

/// Keeps one stream per channel in memory and delivers publications to this
/// node's hubs.
///
/// A stream starts with a fresh random epoch, so after a restart (or after an
/// idle stream is swept) clients see a new epoch and know that their old
/// offsets mean nothing.
pub struct MemoryBroker {
    handler: Arc<dyn BrokerEventHandler>,
    hasher: RandomState,
    streams: Box<[StreamShard]>,
}

#[derive(Debug)]
struct Stream {
    epoch: Arc<str>,
    last_offset: u64,
    last_used: Instant,
    /// The newest publications with when they were kept, bounded by the
    /// namespace's history size and age.
    history: VecDeque<(Instant, Arc<Publication>)>,
    /// The history's age limit as of the latest publish (zero: none), so
    /// that reads between publishes leave out what has expired.
    ttl: Duration,
}

impl Stream {
    /// Drops what is past the history's bounds.
    fn trim(&mut self, options: HistoryOptions, now: Instant) {
        while self.history.len() > options.size {
            self.history.pop_front();
        }
        if !options.ttl.is_zero() {
            while self
                .history
                .front()
                .is_some_and(|(kept, _)| now.duration_since(*kept) >= options.ttl)
            {
                self.history.pop_front();
            }
        }
    }
}

impl MemoryBroker {
    /// A broker that delivers to `handler`.
    pub fn new(handler: Arc<dyn BrokerEventHandler>) -> Self {
        Self {
            handler,
            hasher: RandomState::new(),
            streams: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn stream(&self, app: &str, channel: &ChannelName) -> Arc<Mutex<Stream>> {
        let shard = self.hasher.hash_one((app, channel.as_str())) as usize % SHARDS;
        let mut streams = self.streams[shard].lock();
        if let Some(stream) = streams
            .get(app)
            .and_then(|channels| channels.get(channel.as_str()))
        {
            return stream.clone();
        }
        let stream = Arc::new(Mutex::new(Stream {
            epoch: new_epoch(),
            last_offset: 0,
            last_used: Instant::now(),
            history: VecDeque::new(),
            ttl: Duration::ZERO,
        }));
        streams
            .entry(Arc::from(app))
            .or_default()
            .insert(channel.clone(), stream.clone());
        stream
    }

    /// Publishes synchronously; [`Broker::publish`] wraps this.
    pub fn publish_now(
        &self,
        app: &str,
        channel: &ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
        history: HistoryOptions,
    ) -> StreamPosition {
        let stream = self.stream(app, channel);
        // The stream lock is held through delivery: that is what keeps every
        // subscriber's view of this channel in offset order.
        let mut stream = stream.lock();
        let now = Instant::now();
        stream.last_offset += 1;
        stream.last_used = now;
        stream.ttl = history.ttl;
        let position = StreamPosition {
            offset: stream.last_offset,
            epoch: stream.epoch.clone(),
        };
        let publication = Arc::new(Publication {
            channel: channel.clone(),
            kind: PublicationKind::Publication,
            data,
            position: position.clone(),
            author: info
                .as_ref()
                .filter(|info| !info.user.is_empty())
                .map(|info| info.user.clone()),
            info,
            audience: None,
        });
        if history.size > 0 {
            stream.history.push_back((now, publication.clone()));
        }
        stream.trim(history, now);
        self.handler.handle_publication(app, publication);
        position
    }

    /// The kept publications after `after`, at most `limit`; synchronous.
    pub fn recover_now(
        &self,
        app: &str,
        channel: &ChannelName,
        after: u64,
        limit: usize,
    ) -> StreamSlice {
        let stream = self.stream(app, channel);
        let stream = stream.lock();
        let position = StreamPosition {
            offset: stream.last_offset,
            epoch: stream.epoch.clone(),
        };
        let missed = position.offset.saturating_sub(after);
        // Expired entries linger until the next publish trims them; a read
        // leaves them out.
        let now = Instant::now();
        let ttl = stream.ttl;
        let publications: Vec<Arc<Publication>> = stream
            .history
            .iter()
            .filter(|(kept, _)| ttl.is_zero() || now.duration_since(*kept) < ttl)
            .map(|(_, publication)| publication)
            .filter(|publication| publication.position.offset > after)
            .take(limit)
            .cloned()
            .collect();
        let complete = after <= position.offset && publications.len() as u64 == missed;
        StreamSlice {
            publications,
            position,
            complete,
        }
    }

    /// Drops streams unused for longer than `idle`, so channels that are no
    /// longer used cost nothing. A dropped stream starts over with a new
    /// epoch. Returns how many were dropped.
    pub fn sweep(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut dropped = 0;
        for shard in self.streams.iter() {
            let mut apps = shard.lock();
            apps.retain(|_, streams| {
                let before = streams.len();
                // A stream someone else holds (a publish in progress fetched
                // it under this shard lock) is never dropped: its publication
                // would land in an orphaned epoch.
                streams.retain(|_, stream| {
                    Arc::strong_count(stream) > 1
                        || now.duration_since(stream.lock().last_used) < idle
                });
                dropped += before - streams.len();
                !streams.is_empty()
            });
        }
        dropped
    }

    /// Streams held in memory.
    pub fn stream_count(&self) -> usize {
        self.streams
            .iter()
            .map(|shard| shard.lock().values().map(HashMap::len).sum::<usize>())
            .sum()
    }
}

fn new_epoch() -> Arc<str> {
    Arc::from(format!("{:08x}", rand::random::<u32>()))
}

impl Broker for MemoryBroker {
    fn publish<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
        history: HistoryOptions,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        let position = self.publish_now(app, channel, data, info, history);
        Box::pin(std::future::ready(Ok(position)))
    }

    fn recover<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>> {
        Box::pin(std::future::ready(Ok(
            self.recover_now(app, channel, after, limit)
        )))
    }

    fn position<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        let stream = self.stream(app, channel);
        let stream = stream.lock();
        let position = StreamPosition {
            offset: stream.last_offset,
            epoch: stream.epoch.clone(),
        };
        Box::pin(std::future::ready(Ok(position)))
    }

    fn subscribe<'a>(
        &'a self,
        _: &'a str,
        _: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn unsubscribe<'a>(
        &'a self,
        _: &'a str,
        _: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(String, u64)>>);
    impl BrokerEventHandler for Collect {
        fn handle_publication(&self, app: &str, p: Arc<Publication>) {
            self.0.lock().push((app.to_owned(), p.position.offset));
        }
        fn handle_gap(&self, _: &str, _: &ChannelName) -> usize {
            0
        }
    }

    #[test]
    fn offsets_grow_by_one_per_channel_and_app() {
        let handler = Arc::new(Collect::default());
        let broker = MemoryBroker::new(handler.clone());
        let a = ChannelName::new("a").unwrap();
        let b = ChannelName::new("b").unwrap();
        let p1 = broker.publish_now("x", &a, Bytes::new(), None, HistoryOptions::default());
        let p2 = broker.publish_now("x", &a, Bytes::new(), None, HistoryOptions::default());
        let p3 = broker.publish_now("x", &b, Bytes::new(), None, HistoryOptions::default());
        let p4 = broker.publish_now("y", &a, Bytes::new(), None, HistoryOptions::default());
        assert_eq!((p1.offset, p2.offset, p3.offset, p4.offset), (1, 2, 1, 1));
        assert_eq!(p1.epoch, p2.epoch);
        assert_eq!(handler.0.lock().len(), 4);
        assert_eq!(broker.sweep(Duration::ZERO), 3);
        let p5 = broker.publish_now("x", &a, Bytes::new(), None, HistoryOptions::default());
        assert_eq!(p5.offset, 1);
        assert_ne!(p5.epoch, p1.epoch);
    }

    #[test]
    fn a_stream_in_use_is_not_swept() {
        let broker = MemoryBroker::new(Arc::new(Collect::default()));
        let a = ChannelName::new("a").unwrap();
        let held = broker.stream("x", &a);
        assert_eq!(broker.sweep(Duration::ZERO), 0);
        drop(held);
        assert_eq!(broker.sweep(Duration::ZERO), 1);
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    struct Nowhere;
    impl BrokerEventHandler for Nowhere {
        fn handle_publication(&self, _: &str, _: Arc<Publication>) {}
        fn handle_gap(&self, _: &str, _: &ChannelName) -> usize {
            0
        }
    }

    #[test]
    fn history_is_bounded_and_recovery_says_when_it_is_complete() {
        let broker = MemoryBroker::new(Arc::new(Nowhere));
        let channel = ChannelName::new("c").unwrap();
        let history = HistoryOptions {
            size: 3,
            ttl: Duration::ZERO,
        };
        for _ in 0..5 {
            broker.publish_now("a", &channel, Bytes::new(), None, history);
        }
        let slice = broker.recover_now("a", &channel, 2, 10);
        let offsets: Vec<u64> = slice
            .publications
            .iter()
            .map(|p| p.position.offset)
            .collect();
        assert_eq!((offsets, slice.complete), (vec![3, 4, 5], true));
        assert!(
            !broker.recover_now("a", &channel, 1, 10).complete,
            "offset 2 was pushed out"
        );
        assert!(
            !broker.recover_now("a", &channel, 2, 2).complete,
            "past the limit"
        );
        assert!(
            broker.recover_now("a", &channel, 5, 10).complete,
            "nothing missed"
        );
        let expiring = HistoryOptions {
            size: 3,
            ttl: Duration::from_nanos(1),
        };
        broker.publish_now("a", &channel, Bytes::new(), None, expiring);
        std::thread::sleep(Duration::from_millis(1));
        broker.publish_now("a", &channel, Bytes::new(), None, expiring);
        assert!(
            !broker.recover_now("a", &channel, 5, 10).complete,
            "offset 6 expired"
        );
    }

    #[test]
    fn expired_history_is_left_out_of_reads_before_the_next_publish() {
        let broker = MemoryBroker::new(Arc::new(Nowhere));
        let channel = ChannelName::new("c").unwrap();
        let history = HistoryOptions {
            size: 10,
            ttl: Duration::from_millis(30),
        };
        broker.publish_now("a", &channel, Bytes::new(), None, history);
        broker.publish_now("a", &channel, Bytes::new(), None, history);
        assert_eq!(
            broker.recover_now("a", &channel, 0, 10).publications.len(),
            2
        );
        std::thread::sleep(Duration::from_millis(40));
        let slice = broker.recover_now("a", &channel, 0, 10);
        assert!(slice.publications.is_empty());
        assert!(!slice.complete, "the missed publications expired");
        assert!(broker.recover_now("a", &channel, 2, 10).complete);
    }
}
