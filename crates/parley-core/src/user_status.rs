//! User status across an app: online, away, or offline since a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Whether a user is around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// At least one connection is up.
    Online,
    /// Connected, but a client reported the user away.
    Away,
    /// No connection is up.
    Offline,
}

impl Status {
    /// The status as a word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Offline => "offline",
        }
    }
}

/// A user's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatus {
    /// The user id.
    pub user: Arc<str>,
    /// Online, away or offline.
    pub status: Status,
    /// When the user's last connection ended (seconds since the Unix epoch);
    /// `None` while connected, or for a user never seen.
    pub last_seen: Option<u64>,
}

/// The status of every user of one app who has connected to this node.
///
/// In a cluster it is the node's own part: which users have connections
/// here. The deployment's answer is the [`SharedStatus`](crate::SharedStatus),
/// which each change of this book is recorded in, with its change number.
#[derive(Debug, Default)]
pub struct StatusBook {
    users: Mutex<HashMap<Arc<str>, Entry>>,
    /// The last change number handed out: later changes get larger ones,
    /// across restarts too (they start from the wall clock, in
    /// microseconds, exact in a Lua number for centuries).
    version: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Entry {
    connections: usize,
    away: bool,
    last_seen: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Entry {
    fn status(&self, user: &Arc<str>) -> UserStatus {
        let (status, last_seen) = match (self.connections, self.away) {
            (0, _) => (Status::Offline, Some(self.last_seen)),
            (_, true) => (Status::Away, None),
            (_, false) => (Status::Online, None),
        };
        UserStatus {
            user: user.clone(),
            status,
            last_seen,
        }
    }
}

impl StatusBook {
    /// A change number larger than every one handed out before.
    fn next_version(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
            });
        let mut last = self.version.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .version
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(current) => last = current,
            }
        }
    }

    /// A connection of `user` came up. Returns the new status when it
    /// changed (the user came online), with its change number.
    pub fn connected(&self, user: &Arc<str>) -> Option<(UserStatus, u64)> {
        let mut users = self.users.lock();
        let entry = users.entry(user.clone()).or_insert(Entry {
            connections: 0,
            away: false,
            last_seen: 0,
        });
        entry.connections += 1;
        if entry.connections > 1 {
            return None;
        }
        entry.away = false;
        // Taken under the lock, so change numbers follow the changes.
        Some((entry.status(user), self.next_version()))
    }

    /// A connection of `user` ended. Returns the new status when it changed
    /// (the last connection ended: the user is offline), with its change
    /// number.
    pub fn disconnected(&self, user: &Arc<str>) -> Option<(UserStatus, u64)> {
        let mut users = self.users.lock();
        let entry = users.get_mut(user)?;
        entry.connections = entry.connections.saturating_sub(1);
        if entry.connections > 0 {
            return None;
        }
        entry.last_seen = unix_now();
        entry.away = false;
        Some((entry.status(user), self.next_version()))
    }

    /// A client reported the user away (or back). Returns the new status
    /// when it changed; a user with no connection stays offline.
    pub fn set_away(&self, user: &Arc<str>, away: bool) -> Option<UserStatus> {
        let mut users = self.users.lock();
        let entry = users.get_mut(user)?;
        if entry.connections == 0 || entry.away == away {
            return None;
        }
        entry.away = away;
        Some(entry.status(user))
    }

    /// The user's status; offline without `last_seen` for a user never seen.
    pub fn get(&self, user: &str) -> UserStatus {
        let users = self.users.lock();
        match users.get_key_value(user) {
            Some((user, entry)) => entry.status(user),
            None => UserStatus {
                user: user.into(),
                status: Status::Offline,
                last_seen: None,
            },
        }
    }

    /// Forgets users offline for longer than `retention`, so the book does
    /// not grow with every user ever seen.
    pub fn sweep(&self, retention: Duration) {
        let cutoff = unix_now().saturating_sub(retention.as_secs());
        self.users
            .lock()
            .retain(|_, entry| entry.connections > 0 || entry.last_seen >= cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_away_offline() {
        let book = StatusBook::default();
        let ann: Arc<str> = "ann".into();
        assert_eq!(book.get("ann").status, Status::Offline);
        let (online, first) = book.connected(&ann).unwrap();
        assert_eq!(online.status, Status::Online);
        assert_eq!(book.connected(&ann), None, "a second tab changes nothing");
        assert_eq!(book.set_away(&ann, true).unwrap().status, Status::Away);
        assert_eq!(book.set_away(&ann, true), None);
        assert_eq!(book.disconnected(&ann), None);
        let (offline, second) = book.disconnected(&ann).unwrap();
        assert!(second > first, "change numbers grow");
        assert_eq!(offline.status, Status::Offline);
        assert!(offline.last_seen.unwrap() > 0);
        assert_eq!(book.set_away(&ann, false), None);
        assert_eq!(
            book.connected(&ann).unwrap().0.status,
            Status::Online,
            "back online, not away"
        );
    }
}
