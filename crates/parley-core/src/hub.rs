//! The hub: one app's connections and subscriptions on this node, and the
//! local fan-out.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::{
    BlockBook, ChannelName, ClientHandle, ClientId, Error, Frame, MAX_ENCODERS, Publication, Push,
    StreamPosition,
};

mod invariants;

pub use invariants::BrokenInvariant;

/// Shards per map. A power of two well above the core count, so two cores
/// rarely meet on one lock.
const SHARDS: usize = 64;

type Subscribers = HashMap<ClientId, Subscriber>;

/// Publications a recovering subscriber may hold back, at most; past it the
/// client is closed as slow and recovers again on reconnect.
const MAX_HELD_BACK: usize = 10_000;

/// One connection's subscription to a channel.
#[derive(Debug)]
struct Subscriber {
    client: Arc<ClientHandle>,
    /// While the connection replays what it missed, live publications wait
    /// here, so none arrives before the replay or twice.
    recovering: Option<Box<Mutex<VecDeque<Publication>>>>,
    /// After a replay, the position it reached: a live publication at or
    /// below it was in the replay already and is not sent again. A store
    /// commit becomes readable a moment before the node broadcasts it, so
    /// a replay can hold a publication whose broadcast comes after the
    /// hold ended.
    replayed: Option<Box<StreamPosition>>,
}

impl Subscriber {
    /// Whether `publication` reached this subscriber in its replay.
    fn replayed(&self, publication: &Publication) -> bool {
        reached(self.replayed.as_deref(), publication)
    }
}

/// Whether a replay that reached `replayed` held `publication`.
fn reached(replayed: Option<&StreamPosition>, publication: &Publication) -> bool {
    replayed.is_some_and(|replayed| {
        publication.position.offset <= replayed.offset
            && publication.position.epoch == replayed.epoch
    })
}
type UserShard = Mutex<HashMap<Arc<str>, Vec<Arc<ClientHandle>>>>;

/// One app's connections and subscriptions on this node.
///
/// Channels and users live in sharded maps behind std-style locks that are
/// never held across an await. The fan-out takes one shard's read lock, so
/// publications to channels in other shards, and other publications to the
/// same channel, proceed in parallel.
#[derive(Debug)]
pub struct Hub {
    hasher: RandomState,
    channels: Box<[RwLock<HashMap<ChannelName, Subscribers>>]>,
    users: Box<[UserShard]>,
    connections: AtomicUsize,
    subscriptions: AtomicUsize,
    channel_count: AtomicUsize,
    /// Who blocked whom: the fan-out filters messages and typing by it.
    blocks: BlockBook,
}

/// An active channel and how many local connections subscribe to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSummary {
    /// The channel.
    pub name: ChannelName,
    /// Local subscribers.
    pub subscribers: usize,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            channels: (0..SHARDS).map(|_| RwLock::default()).collect(),
            users: (0..SHARDS).map(|_| Mutex::default()).collect(),
            connections: AtomicUsize::new(0),
            subscriptions: AtomicUsize::new(0),
            channel_count: AtomicUsize::new(0),
            blocks: BlockBook::default(),
        }
    }

    /// The app's block lists on this node.
    pub fn blocks(&self) -> &BlockBook {
        &self.blocks
    }

    fn shard<K: Hash + ?Sized>(&self, key: &K) -> usize {
        self.hasher.hash_one(key) as usize % SHARDS
    }

    /// Registers a connection. A user may hold at most
    /// `max_connections_per_user` connections; anonymous connections are
    /// counted but not indexed by user.
    pub fn add_client(
        &self,
        client: &Arc<ClientHandle>,
        max_connections_per_user: usize,
    ) -> Result<(), Error> {
        if !client.is_anonymous() {
            let mut users = self.users[self.shard(client.user())].lock();
            let clients = users.entry(client.user_arc()).or_default();
            if clients.len() >= max_connections_per_user {
                if clients.is_empty() {
                    users.remove(client.user());
                }
                return Err(Error::TooManyConnections(max_connections_per_user));
            }
            clients.push(client.clone());
        }
        self.connections.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets a connection registered with [`Hub::add_client`]. Its
    /// subscriptions must have been removed already.
    pub fn remove_client(&self, client: &ClientHandle) {
        if !client.is_anonymous() {
            let mut users = self.users[self.shard(client.user())].lock();
            if let Some(clients) = users.get_mut(client.user()) {
                clients.retain(|c| c.id != client.id);
                if clients.is_empty() {
                    users.remove(client.user());
                }
            }
        }
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Subscribes a connection to a channel. Returns whether the channel got
    /// its first local subscriber (the node reports it occupied).
    ///
    /// A `recovering` subscription holds live publications back until
    /// [`Hub::finish_recovery`], so the connection can first replay what it
    /// missed.
    pub fn subscribe(
        &self,
        client: &Arc<ClientHandle>,
        channel: &ChannelName,
        recovering: bool,
    ) -> Result<bool, Error> {
        let mut channels = self.channels[self.shard(channel.as_str())].write();
        let first = !channels.contains_key(channel.as_str());
        let subscribers = channels.entry(channel.clone()).or_default();
        if subscribers.contains_key(&client.id) {
            return Err(Error::AlreadySubscribed);
        }
        subscribers.insert(
            client.id,
            Subscriber {
                client: client.clone(),
                recovering: recovering.then(Box::default),
                replayed: None,
            },
        );
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
        if first {
            self.channel_count.fetch_add(1, Ordering::Relaxed);
        }
        Ok(first)
    }

    /// Unsubscribes a connection. Returns `Some(last)` when it was
    /// subscribed, where `last` says whether the channel lost its last local
    /// subscriber.
    pub fn unsubscribe(&self, client: ClientId, channel: &ChannelName) -> Option<bool> {
        let mut channels = self.channels[self.shard(channel.as_str())].write();
        let subscribers = channels.get_mut(channel.as_str())?;
        subscribers.remove(&client)?;
        self.subscriptions.fetch_sub(1, Ordering::Relaxed);
        let last = subscribers.is_empty();
        if last {
            channels.remove(channel.as_str());
            self.channel_count.fetch_sub(1, Ordering::Relaxed);
        }
        Some(last)
    }

    /// Releases a recovering subscription's hold, one page at a time: the
    /// publications held back past `replayed` (the position the replay
    /// reached) are queued for the connection, in order, while its queue
    /// [accepts a page](crate::OutboundQueue::accepts_page); none at or
    /// below `replayed` is sent again. Returns whether the hold ended (then
    /// later publications go straight to the connection); if not, call it
    /// again once the connection wrote what is queued. Meanwhile new
    /// publications keep joining the hold, behind the ones held already.
    /// The shard's write lock keeps any broadcast from slipping in between
    /// the last held publication and the end of the hold.
    pub fn finish_recovery(
        &self,
        client: &ClientHandle,
        channel: &ChannelName,
        replayed: &StreamPosition,
    ) -> bool {
        let mut channels = self.channels[self.shard(channel.as_str())].write();
        let Some(subscriber) = channels
            .get_mut(channel.as_str())
            .and_then(|subscribers| subscribers.get_mut(&client.id))
        else {
            return true;
        };
        if subscriber.replayed.is_none() && replayed.offset > 0 {
            subscriber.replayed = Some(Box::new(replayed.clone()));
        }
        let Some(held) = subscriber.recovering.as_mut() else {
            return true;
        };
        let replayed = subscriber.replayed.as_deref();
        let held = held.get_mut();
        while let Some(publication) = held.front() {
            if reached(replayed, publication) {
                held.pop_front();
                continue;
            }
            let frame = client.encoder().encode(&Push::Publication(publication));
            if !client.queue().accepts_page(frame.len()) {
                if client.queue().closed().is_some() {
                    // The connection is closing: nothing more to page.
                    break;
                }
                return false;
            }
            held.pop_front();
            if client.send(frame).is_err() {
                break;
            }
        }
        subscriber.recovering = None;
        true
    }

    /// Whether a connection is subscribed to a channel.
    pub fn is_subscribed(&self, client: ClientId, channel: &ChannelName) -> bool {
        self.channels[self.shard(channel.as_str())]
            .read()
            .get(channel.as_str())
            .is_some_and(|subscribers| subscribers.contains_key(&client))
    }

    /// Delivers a push to every local subscriber of its channel, in the
    /// frame of each subscriber's encoder.
    ///
    /// The push is encoded at most once per encoder, and the frame's bytes
    /// are shared; the one exception is a typing push for a subscriber who
    /// blocked one of the typers, encoded for that subscriber alone. A
    /// subscriber whose encoder does not deliver the push to it is skipped.
    /// A subscriber whose queue overflows is closed as slow by its queue;
    /// the others are not held up. Returns how many subscribers the frame
    /// was queued for.
    pub fn broadcast(&self, push: &Push<'_>) -> usize {
        let channel = push.channel();
        let channels = self.channels[self.shard(channel.as_str())].read();
        let Some(subscribers) = channels.get(channel.as_str()) else {
            return 0;
        };
        let mut frames: [Option<Frame>; MAX_ENCODERS] = Default::default();
        let mut delivered = 0;
        // Per-subscriber filtering, only for a push that needs it: one meant
        // for its author alone, or a message or typing push while somebody
        // in the app blocks somebody.
        let (author, audience) = match push {
            Push::Publication(publication) => (
                publication.author.as_deref(),
                publication.audience.as_deref(),
            ),
            _ => (None, None),
        };
        let typing = matches!(push, Push::Typing { .. });
        let blocks =
            (self.blocks.is_active() && (author.is_some() || typing)).then(|| self.blocks.read());
        for subscriber in subscribers.values() {
            let client = &subscriber.client;
            let encoder = client.encoder();
            let blocked = blocks.as_ref().and_then(|lists| lists.get(client.user()));
            if !encoder.delivers(push, client)
                || !crate::Viewer::allows(client.user(), blocked, author, audience)
            {
                continue;
            }
            if let Some(blocked) = blocked
                && let Push::Typing { channel, typers } = push
                && typers.iter().any(|typer| blocked.contains(&typer.user))
            {
                // Encoded for this subscriber alone: the typers they
                // did not block.
                let seen: Vec<crate::Typer> = typers
                    .iter()
                    .filter(|typer| !blocked.contains(&typer.user))
                    .cloned()
                    .collect();
                let push = Push::Typing {
                    channel,
                    typers: &seen,
                };
                if client.send(encoder.encode(&push)).is_ok() {
                    delivered += 1;
                }
                continue;
            }
            if let Push::Publication(publication) = push
                && subscriber.replayed(publication)
            {
                continue;
            }
            if let (Some(held), Push::Publication(publication)) = (&subscriber.recovering, push) {
                let mut held = held.lock();
                if held.len() < MAX_HELD_BACK {
                    held.push_back((*publication).clone());
                } else {
                    client.disconnect(crate::Disconnect::Slow);
                }
                continue;
            }
            let frame = frames[encoder.id().index()].get_or_insert_with(|| encoder.encode(push));
            if client.send(frame.clone()).is_ok() {
                delivered += 1;
            }
        }
        delivered
    }

    /// The connections of a user.
    pub fn user_clients(&self, user: &str) -> Vec<Arc<ClientHandle>> {
        self.users[self.shard(user)]
            .lock()
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// Active channels whose names start with `prefix`, sorted by name.
    pub fn channels(&self, prefix: &str) -> Vec<ChannelSummary> {
        let mut found: Vec<ChannelSummary> = self
            .channels
            .iter()
            .flat_map(|shard| {
                shard
                    .read()
                    .iter()
                    .filter(|(name, _)| name.as_str().starts_with(prefix))
                    .map(|(name, subscribers)| ChannelSummary {
                        name: name.clone(),
                        subscribers: subscribers.len(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// The connections subscribed to one channel on this node.
    pub fn subscribers(&self, channel: &ChannelName) -> Vec<Arc<ClientHandle>> {
        self.channels[self.shard(channel.as_str())]
            .read()
            .get(channel.as_str())
            .map(|subscribers| {
                subscribers
                    .values()
                    .map(|subscriber| subscriber.client.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Local subscribers of one channel.
    pub fn subscriber_count(&self, channel: &ChannelName) -> usize {
        self.channels[self.shard(channel.as_str())]
            .read()
            .get(channel.as_str())
            .map_or(0, HashMap::len)
    }

    /// Connections registered on this hub.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Subscriptions on this hub.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.load(Ordering::Relaxed)
    }

    /// Channels with at least one local subscriber.
    pub fn channel_count(&self) -> usize {
        self.channel_count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::{BlockList, ClientInfo, Encoder, EncoderRegistry, FrameEncoder, StreamPosition};

    pub(super) struct Echo;
    impl FrameEncoder for Echo {
        fn encode(&self, push: &Push<'_>) -> Frame {
            match push {
                Push::Publication(p) => Frame::new(String::from_utf8(p.data.to_vec()).unwrap()),
                _ => Frame::from_static("other"),
            }
        }
    }

    /// The encoder of the tests' clients, registered once.
    fn echo() -> Encoder {
        static ECHO: LazyLock<Encoder> =
            LazyLock::new(|| EncoderRegistry::default().register(Echo).unwrap());
        ECHO.clone()
    }

    pub(super) fn client(sequence: u64, user: &str) -> Arc<ClientHandle> {
        client_of(sequence, user, echo())
    }

    pub(super) fn client_of(sequence: u64, user: &str, encoder: Encoder) -> Arc<ClientHandle> {
        let id = ClientId { node: 1, sequence };
        let client = ClientHandle::new(id, "app".into(), encoder, 1024);
        client.identify(user.into(), Arc::default());
        Arc::new(client)
    }

    #[test]
    fn subscribe_counts_and_fan_out() {
        let hub = Hub::new();
        let (a, b) = (client(1, "a"), client(2, ""));
        hub.add_client(&a, 10).unwrap();
        hub.add_client(&b, 10).unwrap();
        let news = ChannelName::new("news").unwrap();
        assert_eq!(hub.subscribe(&a, &news, false), Ok(true));
        assert_eq!(hub.subscribe(&b, &news, false), Ok(false));
        assert_eq!(
            hub.subscribe(&b, &news, false),
            Err(Error::AlreadySubscribed)
        );
        assert_eq!((hub.channel_count(), hub.subscription_count()), (1, 2));
        hub.check_invariants().unwrap();
        let publication = Publication {
            channel: news.clone(),
            kind: Default::default(),
            data: "hi".into(),
            position: StreamPosition {
                offset: 1,
                epoch: "e".into(),
            },
            info: Some(ClientInfo {
                client: a.id,
                user: a.user_arc(),
                info: None,
            }),
            author: None,
            audience: None,
        };
        assert_eq!(hub.broadcast(&Push::Publication(&publication)), 2);
        let mut out = Vec::new();
        b.queue().drain_into(&mut out);
        assert_eq!(out, vec![Frame::from_static("hi")]);
        assert_eq!(hub.unsubscribe(a.id, &news), Some(false));
        assert_eq!(hub.unsubscribe(a.id, &news), None);
        assert_eq!(hub.unsubscribe(b.id, &news), Some(true));
        assert_eq!(hub.channel_count(), 0);
        hub.check_invariants().unwrap();
    }

    pub(super) fn at(channel: &ChannelName, offset: u64, epoch: &str) -> Publication {
        Publication {
            channel: channel.clone(),
            kind: Default::default(),
            data: format!("{epoch}{offset}").into(),
            position: StreamPosition {
                offset,
                epoch: epoch.into(),
            },
            info: None,
            author: None,
            audience: None,
        }
    }

    /// A store commit is readable before the node broadcasts it: the
    /// replay can hold a publication whose broadcast comes after the hold
    /// ended. It must not reach the subscriber twice.
    #[test]
    fn nothing_the_replay_held_is_sent_again() {
        let hub = Hub::new();
        let a = client(1, "a");
        hub.add_client(&a, 10).unwrap();
        let news = ChannelName::new("news").unwrap();
        hub.subscribe(&a, &news, true).unwrap();
        // Held while recovering: 4 was replayed, 6 was not.
        hub.broadcast(&Push::Publication(&at(&news, 4, "e")));
        hub.broadcast(&Push::Publication(&at(&news, 6, "e")));
        let replayed = StreamPosition {
            offset: 5,
            epoch: "e".into(),
        };
        hub.finish_recovery(&a, &news, &replayed);
        // 5 was in the replay; its broadcast comes only now.
        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 5, "e"))), 0);
        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 7, "e"))), 1);
        // A new epoch starts over at offset 1: not a repeat.
        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 1, "f"))), 1);
        let mut out = Vec::new();
        a.queue().drain_into(&mut out);
        assert_eq!(
            out,
            vec![
                Frame::from_static("e6"),
                Frame::from_static("e7"),
                Frame::from_static("f1")
            ]
        );
    }

    /// The hold is released a page at a time (half the queue), so a hold
    /// larger than the queue never closes the client as slow; publications
    /// that arrive meanwhile join the hold behind the others.
    #[test]
    fn a_large_hold_is_released_in_pages_in_order() {
        struct Padded;
        impl FrameEncoder for Padded {
            fn encode(&self, push: &Push<'_>) -> Frame {
                match push {
                    Push::Publication(p) => Frame::new(format!("{:<400}", p.position.offset)),
                    _ => Frame::from_static("other"),
                }
            }
        }
        let hub = Hub::new();
        let padded = EncoderRegistry::default().register(Padded).unwrap();
        let a = client_of(1, "a", padded);
        hub.add_client(&a, 10).unwrap();
        let news = ChannelName::new("news").unwrap();
        hub.subscribe(&a, &news, true).unwrap();
        for offset in 1..=4 {
            hub.broadcast(&Push::Publication(&at(&news, offset, "e")));
        }
        let replayed = StreamPosition {
            offset: 1,
            epoch: "e".into(),
        };
        let mut written = Vec::new();
        // Queue of 1024 bytes: one frame of 400 per page (two would pass
        // half of it).
        assert!(!hub.finish_recovery(&a, &news, &replayed));
        hub.broadcast(&Push::Publication(&at(&news, 5, "e")));
        let mut pages = 1;
        loop {
            assert_eq!(a.queue().drain_into(&mut written), None, "never slow");
            pages += 1;
            if hub.finish_recovery(&a, &news, &replayed) {
                break;
            }
        }
        a.queue().drain_into(&mut written);
        hub.broadcast(&Push::Publication(&at(&news, 6, "e")));
        a.queue().drain_into(&mut written);
        let offsets: Vec<String> = written
            .iter()
            .map(|frame| frame.as_str().trim().to_owned())
            .collect();
        assert_eq!(offsets, ["2", "3", "4", "5", "6"]);
        assert_eq!(pages, 4, "one frame a page; the last page ends the hold");
    }

    #[test]
    fn audiences_and_block_lists_filter_the_fan_out() {
        let hub = Hub::new();
        let (a, b, c) = (client(1, "a"), client(2, "b"), client(3, "c"));
        let news = ChannelName::new("news").unwrap();
        for subscriber in [&a, &b, &c] {
            hub.add_client(subscriber, 10).unwrap();
            hub.subscribe(subscriber, &news, false).unwrap();
        }
        let mut publication = Publication {
            channel: news.clone(),
            kind: Default::default(),
            data: "hi".into(),
            position: StreamPosition {
                offset: 1,
                epoch: "e".into(),
            },
            info: None,
            author: Some("a".into()),
            audience: Some("a".into()),
        };
        assert_eq!(hub.broadcast(&Push::Publication(&publication)), 1);
        publication.audience = None;
        hub.blocks().set("b".into(), BlockList::from(["a".into()]));
        assert_eq!(hub.broadcast(&Push::Publication(&publication)), 2);
        let mut out = Vec::new();
        b.queue().drain_into(&mut out);
        assert!(out.is_empty(), "b blocked a");
        hub.blocks().set("b".into(), BlockList::new());
        assert!(!hub.blocks().is_active());
        assert_eq!(hub.broadcast(&Push::Publication(&publication)), 3);
        hub.check_invariants().unwrap();
    }

    #[test]
    fn per_user_connection_limit() {
        let hub = Hub::new();
        let (a1, a2) = (client(1, "a"), client(2, "a"));
        hub.add_client(&a1, 1).unwrap();
        assert_eq!(hub.add_client(&a2, 1), Err(Error::TooManyConnections(1)));
        assert_eq!(hub.user_clients("a").len(), 1);
        hub.remove_client(&a1);
        assert!(hub.user_clients("a").is_empty());
        assert_eq!(hub.connection_count(), 0);
        hub.add_client(&client(3, ""), 0).unwrap();
        assert_eq!(hub.connection_count(), 1);
        hub.check_invariants().unwrap();
    }

    /// Counts its encodes.
    struct Counting(Arc<AtomicUsize>);
    impl FrameEncoder for Counting {
        fn encode(&self, push: &Push<'_>) -> Frame {
            self.0.fetch_add(1, Ordering::Relaxed);
            Echo.encode(push)
        }
    }

    /// Subscribers on two encoders cost two encodes per broadcast, however
    /// many they are, and share each frame's bytes; with subscribers on one
    /// encoder only, one.
    #[test]
    fn a_broadcast_encodes_once_per_encoder_present() {
        let registry = EncoderRegistry::default();
        let counts = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
        let first = registry.register(Counting(counts[0].clone())).unwrap();
        let second = registry.register(Counting(counts[1].clone())).unwrap();
        let encodes = || counts.each_ref().map(|count| count.load(Ordering::Relaxed));
        let hub = Hub::new();
        let news = ChannelName::new("news").unwrap();
        let clients: Vec<Arc<ClientHandle>> = (1..=5)
            .map(|sequence| {
                let encoder = if sequence <= 3 { &first } else { &second };
                client_of(sequence, "", encoder.clone())
            })
            .collect();
        for client in &clients {
            hub.add_client(client, 10).unwrap();
            hub.subscribe(client, &news, false).unwrap();
        }
        hub.check_invariants().unwrap();

        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 1, "e"))), 5);
        assert_eq!(encodes(), [1, 1], "one encode per encoder");
        let leave = Push::Leave {
            channel: &news,
            user: "z",
        };
        assert_eq!(hub.broadcast(&leave), 5);
        assert_eq!(encodes(), [2, 2], "every kind of push");
        let frames: Vec<Vec<Frame>> = clients
            .iter()
            .map(|client| {
                let mut out = Vec::new();
                client.queue().drain_into(&mut out);
                out
            })
            .collect();
        assert_eq!(
            frames[0],
            [Frame::from_static("e1"), Frame::from_static("other")]
        );
        for (client, out) in frames.iter().enumerate() {
            assert_eq!(out, &frames[0], "client {client}");
        }
        let bytes = |client: usize| frames[client][0].as_str().as_ptr();
        assert_eq!(
            bytes(0),
            bytes(2),
            "one encoder's subscribers share the bytes"
        );
        assert_eq!(bytes(3), bytes(4));
        assert_ne!(bytes(0), bytes(3), "each encoder has its own frame");

        for client in &clients[3..] {
            hub.unsubscribe(client.id, &news);
            hub.remove_client(client);
        }
        hub.check_invariants().unwrap();
        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 2, "e"))), 3);
        assert_eq!(encodes(), [3, 2], "only the encoder with subscribers");
        assert_eq!(hub.broadcast(&Push::Publication(&at(&news, 1, "f"))), 3);
        assert_eq!(encodes(), [4, 2]);
    }

    /// An encoder may withhold a push from a client, as Pusher withholds a
    /// client's own publication from it; nothing is encoded for nobody.
    #[test]
    fn an_encoder_withholds_a_push_from_a_client() {
        struct NoEcho(Arc<AtomicUsize>);
        impl FrameEncoder for NoEcho {
            fn encode(&self, push: &Push<'_>) -> Frame {
                self.0.fetch_add(1, Ordering::Relaxed);
                Echo.encode(push)
            }

            fn delivers(&self, push: &Push<'_>, client: &ClientHandle) -> bool {
                !matches!(push, Push::Publication(publication)
                    if publication.info.as_ref().is_some_and(|info| info.client == client.id))
            }
        }
        let registry = EncoderRegistry::default();
        let encodes = Arc::new(AtomicUsize::new(0));
        let no_echo = registry.register(NoEcho(encodes.clone())).unwrap();
        let echo = registry.register(Echo).unwrap();
        let hub = Hub::new();
        let news = ChannelName::new("news").unwrap();
        let a = client_of(1, "a", no_echo.clone());
        hub.add_client(&a, 10).unwrap();
        hub.subscribe(&a, &news, false).unwrap();
        let mut own = at(&news, 1, "e");
        own.info = Some(ClientInfo {
            client: a.id,
            user: a.user_arc(),
            info: None,
        });
        assert_eq!(hub.broadcast(&Push::Publication(&own)), 0);
        assert_eq!(encodes.load(Ordering::Relaxed), 0, "no encode for nobody");

        let (b, c) = (client_of(2, "b", no_echo), client_of(3, "c", echo));
        for client in [&b, &c] {
            hub.add_client(client, 10).unwrap();
            hub.subscribe(client, &news, false).unwrap();
        }
        assert_eq!(hub.broadcast(&Push::Publication(&own)), 2);
        assert_eq!(encodes.load(Ordering::Relaxed), 1);
        let mut out = Vec::new();
        a.queue().drain_into(&mut out);
        assert!(out.is_empty(), "a never hears its own publication");
        for client in [&b, &c] {
            client.queue().drain_into(&mut out);
        }
        assert_eq!(out, [Frame::from_static("e1"), Frame::from_static("e1")]);
        hub.check_invariants().unwrap();
    }
}
