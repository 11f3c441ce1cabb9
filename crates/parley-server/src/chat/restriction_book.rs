//! The mutes and bans of users, kept in memory so that checking a send or
//! a subscribe reads no store.
//!
//! A user's restrictions are read at `connect`, in the same statement as
//! the rest of what connect needs ([`Store::connect_profile`]), and
//! replaced on every node whenever a moderator sets or lifts one
//! ([`ControlAction::SetRestrictions`], applied through `Control::act`).
//! The checks read the book and filter by channel and expiry; a user the
//! book does not hold (a send over HTTP by someone never connected here,
//! or a book that was emptied when full) is read from the store.
//!
//! A connect that read the store before a change but stores its answer
//! after the change's update would put back what the change replaced, so
//! each entry keeps the book's version when it was written and a connect
//! never replaces an entry written after its read began.
//!
//! [`Store::connect_profile`]: parley_store::Store::connect_profile
//! [`ControlAction::SetRestrictions`]: crate::cluster::control::ControlAction::SetRestrictions

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use parley_store::RestrictionInForce;

/// How many users the book holds; past it, it starts over empty (the
/// users it forgot are read from the store until they connect again).
const CAPACITY: usize = 100_000;

/// One app's users' restrictions, on this node.
#[derive(Debug, Default)]
pub struct RestrictionBook {
    users: Mutex<HashMap<Arc<str>, Entry>>,
    version: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    /// `None`: not known here (the store is read); kept, rather than no
    /// entry, so that a connect's older read does not fill it.
    restrictions: Option<Arc<[RestrictionInForce]>>,
    version: u64,
}

/// Where a read of the store began, for [`RestrictionBook::loaded`].
#[derive(Debug, Clone, Copy)]
pub struct ReadStart(u64);

impl RestrictionBook {
    /// The user's restrictions, if the book holds them.
    pub fn get(&self, user: &str) -> Option<Arc<[RestrictionInForce]>> {
        self.users
            .lock()
            .get(user)
            .and_then(|entry| entry.restrictions.clone())
    }

    /// Marks the start of a read of the store for [`Self::loaded`].
    pub fn read_start(&self) -> ReadStart {
        ReadStart(self.version.load(Ordering::Acquire))
    }

    /// Keeps what a read begun at `start` found (`None`: more than a
    /// connect reads), unless the user's entry was replaced since.
    pub fn loaded(
        &self,
        user: Arc<str>,
        restrictions: Option<Vec<RestrictionInForce>>,
        start: ReadStart,
    ) {
        let mut users = self.users.lock();
        if users
            .get(&user)
            .is_some_and(|entry| entry.version > start.0)
        {
            return;
        }
        Self::make_room(&mut users);
        users.insert(
            user,
            Entry {
                restrictions: restrictions.map(Into::into),
                version: start.0,
            },
        );
    }

    /// Replaces the user's restrictions after a change (on any node);
    /// `None` when the new ones are not known, so the store is read.
    pub fn changed(&self, user: Arc<str>, restrictions: Option<Vec<RestrictionInForce>>) {
        let mut users = self.users.lock();
        let version = self.version.fetch_add(1, Ordering::AcqRel) + 1;
        Self::make_room(&mut users);
        users.insert(
            user,
            Entry {
                restrictions: restrictions.map(Into::into),
                version,
            },
        );
    }

    fn make_room(users: &mut HashMap<Arc<str>, Entry>) {
        if users.len() >= CAPACITY {
            users.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_store::RestrictionKind;

    fn ban() -> Vec<RestrictionInForce> {
        vec![RestrictionInForce {
            kind: RestrictionKind::Ban,
            channel: None,
            expires_at: None,
        }]
    }

    #[test]
    fn a_read_begun_before_a_change_does_not_undo_it() {
        let book = RestrictionBook::default();
        let start = book.read_start();
        book.changed("ann".into(), Some(ban()));
        book.loaded("ann".into(), Some(Vec::new()), start);
        assert_eq!(book.get("ann").unwrap().len(), 1);
        // A read begun after the change is kept.
        let start = book.read_start();
        book.loaded("ann".into(), Some(Vec::new()), start);
        assert!(book.get("ann").unwrap().is_empty());
    }

    #[test]
    fn an_unknown_change_sends_checks_to_the_store_until_a_newer_read() {
        let book = RestrictionBook::default();
        let before = book.read_start();
        book.loaded("ann".into(), Some(ban()), before);
        book.changed("ann".into(), None);
        assert!(book.get("ann").is_none());
        book.loaded("ann".into(), Some(Vec::new()), before);
        assert!(book.get("ann").is_none(), "an older read does not fill it");
        book.loaded("ann".into(), Some(Vec::new()), book.read_start());
        assert!(book.get("ann").unwrap().is_empty());
    }
}
