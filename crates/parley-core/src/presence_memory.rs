//! The in-memory presence store, for a single node.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    BackendError, BoxFuture, ChannelName, Expired, Lease, LeaseKey, Member, MemberInfo,
    PresenceChange, PresenceConnection, PresenceManager, PresencePage, PresenceStats, SessionAdded,
};

const SHARDS: usize = 64;

type ChannelKey = (Arc<str>, ChannelName);
type Shard = Mutex<HashMap<ChannelKey, ChannelPresence>>;

/// Presence leases in memory, sharded by channel.
pub struct MemoryPresence {
    hasher: RandomState,
    shards: Box<[Shard]>,
    members: AtomicUsize,
    leases: AtomicUsize,
}

#[derive(Default)]
struct ChannelPresence {
    /// Members by user id, ordered so that pages have a stable cursor.
    members: BTreeMap<Arc<str>, MemberEntry>,
    leases: HashMap<LeaseKey, LeaseEntry>,
    /// Leases of users; anonymous ones are counted apart.
    user_leases: usize,
    anonymous: usize,
    /// Leases of heartbeat sessions (users' and anonymous ones), for the
    /// namespace's cap.
    sessions: usize,
}

struct MemberEntry {
    info: Arc<MemberInfo>,
    /// The merged state: the last state any of the member's leases set.
    state: Option<Bytes>,
    /// The member's leases, oldest first: a user holds a few (tabs,
    /// devices), so a list is cheaper than a set.
    leases: Vec<LeaseKey>,
}

struct LeaseEntry {
    user: Arc<str>,
    expires: Instant,
    /// The connection's own state.
    state: Option<Bytes>,
    /// Wall-clock milliseconds, for the presence list.
    joined_at: u64,
    last_seen: u64,
}

impl LeaseEntry {
    fn connection(&self) -> PresenceConnection {
        PresenceConnection {
            state: self.state.clone(),
            joined_at: self.joined_at,
            last_seen: self.last_seen,
        }
    }
}

/// Milliseconds since the Unix epoch, as the presence list shows times.
fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Default for MemoryPresence {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPresence {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            members: AtomicUsize::new(0),
            leases: AtomicUsize::new(0),
        }
    }

    fn shard(&self, app: &str, channel: &ChannelName) -> &Shard {
        &self.shards[self.hasher.hash_one((app, channel.as_str())) as usize % SHARDS]
    }

    /// Members over all channels (a user in two channels counts twice).
    pub fn member_count(&self) -> usize {
        self.members.load(Ordering::Relaxed)
    }

    /// Leases over all channels.
    pub fn lease_count(&self) -> usize {
        self.leases.load(Ordering::Relaxed)
    }

    /// Adds or renews a lease, with no cap on heartbeat sessions.
    fn add_now(
        &self,
        app: &str,
        channel: &ChannelName,
        lease: Lease,
        ttl: Duration,
    ) -> Option<PresenceChange> {
        // A channel cannot hold usize::MAX session leases: never full.
        match self.add_capped(app, channel, lease, ttl, usize::MAX) {
            SessionAdded::Added(change) => change,
            SessionAdded::Full => None,
        }
    }

    /// Adds or renews a lease. A new heartbeat session's lease is refused
    /// when the channel holds `max_sessions` of them already; the check and
    /// the insert happen under the channel's shard lock, so concurrent
    /// heartbeats cannot overshoot the cap.
    fn add_capped(
        &self,
        app: &str,
        channel: &ChannelName,
        lease: Lease,
        ttl: Duration,
        max_sessions: usize,
    ) -> SessionAdded {
        let expires = Instant::now() + ttl;
        let mut shard = self.shard(app, channel).lock();
        let presence = shard.entry((Arc::from(app), channel.clone())).or_default();
        if let Some(existing) = presence.leases.get_mut(&lease.key) {
            existing.expires = expires;
            existing.last_seen = wall_millis();
            // A renewal repeating the connection's state (a heartbeat sends
            // it each time) changes nothing and pushes nothing.
            let state = lease
                .state
                .filter(|state| existing.state.as_ref() != Some(state));
            return SessionAdded::Added(
                state.and_then(|state| replace_state(presence, &lease.key, state)),
            );
        }
        if matches!(lease.key, LeaseKey::Session(_)) {
            if presence.sessions >= max_sessions {
                // An entry left empty (a cap of 0) goes with the next sweep.
                return SessionAdded::Full;
            }
            presence.sessions += 1;
        }
        SessionAdded::Added(self.insert_lease(presence, lease, expires))
    }

    /// Inserts a new lease; returns the join when it is the user's first.
    fn insert_lease(
        &self,
        presence: &mut ChannelPresence,
        lease: Lease,
        expires: Instant,
    ) -> Option<PresenceChange> {
        let now = wall_millis();
        presence.leases.insert(
            lease.key.clone(),
            LeaseEntry {
                user: lease.user.clone(),
                expires,
                state: lease.state.clone(),
                joined_at: now,
                last_seen: now,
            },
        );
        self.leases.fetch_add(1, Ordering::Relaxed);
        if lease.user.is_empty() {
            presence.anonymous += 1;
            return None;
        }
        presence.user_leases += 1;
        if let Some(member) = presence.members.get_mut(&lease.user) {
            member.leases.push(lease.key.clone());
            return lease
                .state
                .and_then(|state| replace_state(presence, &lease.key, state));
        }
        self.members.fetch_add(1, Ordering::Relaxed);
        presence.members.insert(
            lease.user.clone(),
            MemberEntry {
                info: lease.info.clone(),
                state: lease.state.clone(),
                leases: vec![lease.key],
            },
        );
        member_view(presence, &lease.user).map(PresenceChange::Joined)
    }

    fn remove_now(&self, app: &str, channel: &ChannelName, key: &LeaseKey) -> Option<Arc<str>> {
        let mut shard = self.shard(app, channel).lock();
        let channel_key = (Arc::from(app), channel.clone());
        let presence = shard.get_mut(&channel_key)?;
        let lease = presence.leases.remove(key)?;
        let left = self.drop_lease(presence, key, &lease.user);
        if presence.leases.is_empty() {
            shard.remove(&channel_key);
        }
        left
    }

    /// Accounts for a removed lease; returns the user if it was their last.
    fn drop_lease(
        &self,
        presence: &mut ChannelPresence,
        key: &LeaseKey,
        user: &Arc<str>,
    ) -> Option<Arc<str>> {
        self.leases.fetch_sub(1, Ordering::Relaxed);
        if matches!(key, LeaseKey::Session(_)) {
            presence.sessions -= 1;
        }
        if user.is_empty() {
            presence.anonymous -= 1;
            return None;
        }
        presence.user_leases -= 1;
        let member = presence.members.get_mut(user)?;
        member.leases.retain(|held| held != key);
        if !member.leases.is_empty() {
            return None;
        }
        presence.members.remove(user);
        self.members.fetch_sub(1, Ordering::Relaxed);
        Some(user.clone())
    }

    fn expire_now(&self) -> Vec<Expired> {
        let now = Instant::now();
        let mut expired = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.retain(|(app, channel), presence| {
                let keys: Vec<LeaseKey> = presence
                    .leases
                    .iter()
                    .filter(|(_, lease)| lease.expires <= now)
                    .map(|(key, _)| key.clone())
                    .collect();
                if !keys.is_empty() {
                    let mut left = Vec::new();
                    for key in &keys {
                        if let Some(lease) = presence.leases.remove(key) {
                            left.extend(self.drop_lease(presence, key, &lease.user));
                        }
                    }
                    expired.push(Expired {
                        app: app.clone(),
                        channel: channel.clone(),
                        left,
                        leases: keys.len(),
                    });
                }
                !presence.leases.is_empty()
            });
        }
        expired
    }

    fn members_now(
        &self,
        app: &str,
        channel: &ChannelName,
        after: Option<&str>,
        limit: usize,
    ) -> PresencePage {
        let shard = self.shard(app, channel).lock();
        let Some(presence) = shard.get(&(Arc::from(app), channel.clone())) else {
            return PresencePage::default();
        };
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut members: Vec<Member> = presence
            .members
            .range::<str, _>((start, Bound::Unbounded))
            .take(limit + 1)
            .map(|(user, entry)| view(presence, user, entry))
            .collect();
        let next = if members.len() > limit {
            members.truncate(limit);
            members.last().map(|member| member.user.clone())
        } else {
            None
        };
        PresencePage { members, next }
    }
}

/// Replaces a lease's state and its member's merged state; returns the
/// member with it (none for an anonymous lease, whose state is kept).
fn replace_state(
    presence: &mut ChannelPresence,
    key: &LeaseKey,
    state: Bytes,
) -> Option<PresenceChange> {
    set_lease_state(presence, key, state).map(PresenceChange::StateReplaced)
}

/// Sets the state of lease `key` and of its member; returns the member.
fn set_lease_state(presence: &mut ChannelPresence, key: &LeaseKey, state: Bytes) -> Option<Member> {
    let lease = presence.leases.get_mut(key)?;
    lease.state = Some(state.clone());
    let user = lease.user.clone();
    presence.members.get_mut(&user)?.state = Some(state);
    member_view(presence, &user)
}

/// A present member as readers see it, connections included.
fn member_view(presence: &ChannelPresence, user: &str) -> Option<Member> {
    let (user, entry) = presence.members.get_key_value(user)?;
    Some(view(presence, user, entry))
}

fn view(presence: &ChannelPresence, user: &Arc<str>, entry: &MemberEntry) -> Member {
    let connections: Vec<PresenceConnection> = entry
        .leases
        .iter()
        .filter_map(|key| presence.leases.get(key))
        .map(LeaseEntry::connection)
        .collect();
    Member {
        user: user.clone(),
        info: entry.info.clone(),
        state: entry.state.clone(),
        joined_at: connections
            .iter()
            .map(|connection| connection.joined_at)
            .min()
            .unwrap_or_default(),
        connections,
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, BackendError>> {
    Box::pin(std::future::ready(Ok(value)))
}

impl PresenceManager for MemoryPresence {
    fn add<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<PresenceChange>, BackendError>> {
        ready(self.add_now(app, channel, lease, ttl))
    }

    fn add_session<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<SessionAdded, BackendError>> {
        ready(self.add_capped(app, channel, lease, ttl, max_sessions))
    }

    fn remove<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
    ) -> BoxFuture<'a, Result<Option<Arc<str>>, BackendError>> {
        ready(self.remove_now(app, channel, key))
    }

    fn renew<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let mut shard = self.shard(app, channel).lock();
        let lease = shard
            .get_mut(&(Arc::from(app), channel.clone()))
            .and_then(|presence| presence.leases.get_mut(key));
        let renewed = match lease {
            Some(lease) => {
                lease.expires = Instant::now() + ttl;
                lease.last_seen = wall_millis();
                true
            }
            None => false,
        };
        ready(renewed)
    }

    fn set_state<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        state: Bytes,
    ) -> BoxFuture<'a, Result<Option<Member>, BackendError>> {
        let mut shard = self.shard(app, channel).lock();
        let member = shard
            .get_mut(&(Arc::from(app), channel.clone()))
            .and_then(|presence| set_lease_state(presence, key, state));
        ready(member)
    }

    fn anonymous<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<PresenceConnection>, BackendError>> {
        let shard = self.shard(app, channel).lock();
        let viewers = shard
            .get(&(Arc::from(app), channel.clone()))
            .map(|presence| {
                presence
                    .leases
                    .values()
                    .filter(|lease| lease.user.is_empty())
                    .take(limit)
                    .map(LeaseEntry::connection)
                    .collect()
            })
            .unwrap_or_default();
        ready(viewers)
    }

    fn members<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<PresencePage, BackendError>> {
        ready(self.members_now(app, channel, after, limit))
    }

    fn stats<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<PresenceStats, BackendError>> {
        let shard = self.shard(app, channel).lock();
        let stats = shard
            .get(&(Arc::from(app), channel.clone()))
            .map(|presence| PresenceStats {
                num_users: presence.members.len(),
                num_connections: presence.user_leases,
                num_anonymous: presence.anonymous,
            })
            .unwrap_or_default();
        ready(stats)
    }

    fn expire(&self) -> BoxFuture<'_, Result<Vec<Expired>, BackendError>> {
        ready(self.expire_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientId;

    fn lease(sequence: u64, user: &str) -> Lease {
        Lease {
            key: LeaseKey::Client(ClientId { node: 1, sequence }),
            user: user.into(),
            info: Arc::default(),
            state: None,
        }
    }

    #[test]
    fn heartbeat_sessions_are_capped_per_channel_and_known_ones_renewed() {
        let store = MemoryPresence::new();
        let channel = ChannelName::new("stream").unwrap();
        let ttl = Duration::from_secs(60);
        let session = |id: &str, user: &str| Lease {
            key: LeaseKey::Session(id.into()),
            ..lease(0, user)
        };
        let add = |lease| store.add_capped("a", &channel, lease, ttl, 2);
        assert!(matches!(add(session("s1", "")), SessionAdded::Added(None)));
        assert!(matches!(
            add(session("s2", "ann")),
            SessionAdded::Added(Some(PresenceChange::Joined(_)))
        ));
        assert_eq!(add(session("s3", "")), SessionAdded::Full);
        assert_eq!(add(session("s1", "")), SessionAdded::Added(None), "renewed");
        assert!(
            matches!(add(lease(9, "bob")), SessionAdded::Added(Some(_))),
            "connections are not sessions"
        );
        assert_eq!(
            store.remove_now("a", &channel, &LeaseKey::Session("s1".into())),
            None
        );
        assert!(matches!(add(session("s3", "")), SessionAdded::Added(None)));
        let short = Duration::ZERO;
        assert!(matches!(
            store.add_capped("b", &channel, session("s1", ""), short, 1),
            SessionAdded::Added(None)
        ));
        store.expire_now();
        assert!(
            matches!(
                store.add_capped("b", &channel, session("s2", ""), ttl, 1),
                SessionAdded::Added(None)
            ),
            "an expired session frees its place"
        );
    }

    #[test]
    fn members_are_users_and_connections_are_counted_beneath_them() {
        let store = MemoryPresence::new();
        let channel = ChannelName::new("room").unwrap();
        let ttl = Duration::from_secs(60);
        assert!(matches!(
            store.add_now("a", &channel, lease(1, "ann"), ttl),
            Some(PresenceChange::Joined(_))
        ));
        assert!(store.add_now("a", &channel, lease(2, "ann"), ttl).is_none());
        let with_state = Lease {
            state: Some("{}".into()),
            ..lease(2, "ann")
        };
        assert!(matches!(
            store.add_now("a", &channel, with_state, ttl),
            Some(PresenceChange::StateReplaced(_))
        ));
        assert!(store.add_now("a", &channel, lease(3, ""), ttl).is_none());
        assert!(store.add_now("a", &channel, lease(4, "bob"), ttl).is_some());
        assert!(
            store.add_now("b", &channel, lease(5, "ann"), ttl).is_some(),
            "apps are apart"
        );
        let stats = PresenceStats {
            num_users: 2,
            num_connections: 3,
            num_anonymous: 1,
        };
        let shard = store.shard("a", &channel).lock();
        let presence = &shard[&(Arc::from("a"), channel.clone())];
        assert_eq!(
            (
                presence.members.len(),
                presence.user_leases,
                presence.anonymous
            ),
            (stats.num_users, stats.num_connections, stats.num_anonymous)
        );
        drop(shard);
        let key = |sequence| LeaseKey::Client(ClientId { node: 1, sequence });
        assert_eq!(
            store.remove_now("a", &channel, &key(1)),
            None,
            "ann still has a tab"
        );
        assert_eq!(
            store.remove_now("a", &channel, &key(2)).as_deref(),
            Some("ann")
        );
        assert_eq!(store.remove_now("a", &channel, &key(3)), None);
        let page = store.members_now("a", &channel, None, 10);
        assert_eq!(page.members.len(), 1);
        assert_eq!(&*page.members[0].user, "bob");
    }

    #[test]
    fn each_lease_keeps_its_own_state_and_the_member_the_last_one_set() {
        let store = MemoryPresence::new();
        let channel = ChannelName::new("room").unwrap();
        let ttl = Duration::from_secs(60);
        let with_state = |sequence, user: &str, state: &'static str| Lease {
            state: Some(Bytes::from_static(state.as_bytes())),
            ..lease(sequence, user)
        };
        store.add_now("a", &channel, with_state(1, "ann", "{\"d\":1}"), ttl);
        assert!(matches!(
            store.add_now("a", &channel, with_state(2, "ann", "{\"d\":2}"), ttl),
            Some(PresenceChange::StateReplaced(_))
        ));
        assert_eq!(
            store.add_now("a", &channel, with_state(2, "ann", "{\"d\":2}"), ttl),
            None,
            "a renewal repeating its state changes nothing"
        );
        let page = store.members_now("a", &channel, None, 10);
        let ann = &page.members[0];
        assert_eq!(ann.state.as_deref(), Some(&b"{\"d\":2}"[..]));
        let states: Vec<_> = ann
            .connections
            .iter()
            .map(|connection| connection.state.clone().unwrap())
            .collect();
        assert_eq!(states, [&b"{\"d\":1}"[..], &b"{\"d\":2}"[..]]);
        assert_eq!(ann.joined_at, ann.connections[0].joined_at);

        // An anonymous lease keeps its state, listed apart, and is no member.
        store.add_now("a", &channel, lease(3, ""), ttl);
        let key = LeaseKey::Client(ClientId {
            node: 1,
            sequence: 3,
        });
        let update = store.set_state("a", &channel, &key, Bytes::from_static(b"{\"q\":1}"));
        assert_eq!(futures_ready(update), None);
        let anonymous = futures_ready(store.anonymous("a", &channel, 10));
        assert_eq!(anonymous.len(), 1);
        assert_eq!(anonymous[0].state.as_deref(), Some(&b"{\"q\":1}"[..]));
    }

    /// The value of a future the memory store answers at once.
    fn futures_ready<T>(future: BoxFuture<'_, Result<T, BackendError>>) -> T {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(Ok(value)) => value,
            _ => panic!("the memory store answers at once"),
        }
    }

    #[test]
    fn pages_follow_user_order() {
        let store = MemoryPresence::new();
        let channel = ChannelName::new("room").unwrap();
        for (i, user) in ["c", "a", "d", "b", "e"].iter().enumerate() {
            store.add_now(
                "a",
                &channel,
                lease(i as u64, user),
                Duration::from_secs(60),
            );
        }
        let first = store.members_now("a", &channel, None, 2);
        let users: Vec<&str> = first.members.iter().map(|m| &*m.user).collect();
        assert_eq!((users, first.next.as_deref()), (vec!["a", "b"], Some("b")));
        let second = store.members_now("a", &channel, first.next.as_deref(), 2);
        let third = store.members_now("a", &channel, second.next.as_deref(), 2);
        assert_eq!(third.members.len(), 1);
        assert_eq!(third.next, None);
    }

    #[test]
    fn expired_leases_leave() {
        let store = MemoryPresence::new();
        let channel = ChannelName::new("room").unwrap();
        store.add_now("a", &channel, lease(1, "ann"), Duration::ZERO);
        store.add_now("a", &channel, lease(2, ""), Duration::ZERO);
        store.add_now("a", &channel, lease(3, "bob"), Duration::from_secs(60));
        let expired = store.expire_now();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].left, vec![Arc::<str>::from("ann")]);
        assert_eq!(expired[0].leases, 2);
        assert_eq!((store.member_count(), store.lease_count()), (1, 1));
    }
}
