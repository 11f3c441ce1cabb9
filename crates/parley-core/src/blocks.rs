//! `BlockBook`: which users each user blocked, for the hub's fan-out.
//!
//! The lists are loaded from the store by the server (when a user connects,
//! and when they change a list) and kept per app for the users who block
//! anybody. The fan-out asks [`BlockBook::is_active`] first, one atomic
//! load, so an app where nobody blocks anybody pays nothing more.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{RwLock, RwLockReadGuard};

/// The users one user blocked.
pub type BlockList = HashSet<Arc<str>>;

/// Every block list of one app on this node, by blocking user.
#[derive(Debug, Default)]
pub struct BlockBook {
    /// Users with a non-empty list, so the fan-out can skip the map.
    active: AtomicUsize,
    lists: RwLock<HashMap<Arc<str>, BlockList>>,
}

impl BlockBook {
    /// Replaces the block list of `user`; an empty list forgets the user.
    pub fn set(&self, user: Arc<str>, blocked: BlockList) {
        let mut lists = self.lists.write();
        if blocked.is_empty() {
            lists.remove(&user);
        } else {
            lists.insert(user, blocked);
        }
        self.active.store(lists.len(), Ordering::Release);
    }

    /// Whether anybody blocks anybody.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }

    /// Whether `blocker` blocked `author`.
    pub fn blocks(&self, blocker: &str, author: &str) -> bool {
        self.is_active()
            && self
                .lists
                .read()
                .get(blocker)
                .is_some_and(|list| list.contains(author))
    }

    /// The block list of `user`, empty when they block nobody.
    pub fn list(&self, user: &str) -> BlockList {
        if !self.is_active() {
            return BlockList::new();
        }
        self.lists.read().get(user).cloned().unwrap_or_default()
    }

    /// Read access to every list, for one fan-out.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, BlockList>> {
        self.lists.read()
    }
}
