//! `Throttle`: changes owed per key (a channel), sent at most once per
//! interval each, the last one always.
//!
//! A change marks its key; a periodic flush takes the keys that are due
//! (their last send is at least their interval ago) and sends what is true
//! *then*, so a burst of changes costs one send per interval, and the send
//! after the burst's last change carries the final state. Keys that are
//! not due stay marked for a later flush. Live presence counts and Pusher's
//! `subscription_count` both flush through one.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Marked keys and when each was last sent.
pub struct Throttle<K> {
    state: Mutex<ThrottleState<K>>,
}

struct ThrottleState<K> {
    /// Keys changed since their last send.
    marked: HashSet<K>,
    /// When keys were last sent, kept while their interval runs.
    last_sent: HashMap<K, Instant>,
}

impl<K> Default for Throttle<K> {
    fn default() -> Self {
        Self {
            state: Mutex::new(ThrottleState {
                marked: HashSet::new(),
                last_sent: HashMap::new(),
            }),
        }
    }
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// A throttle with nothing marked.
    pub fn new() -> Self {
        Self::default()
    }

    /// `key` changed: it is owed a send.
    pub fn mark(&self, key: K) {
        self.state.lock().marked.insert(key);
    }

    /// Takes the marked keys whose last send is at least `interval(key)`
    /// before `now`, and records `now` as their send; the others stay
    /// marked. A key's interval may depend on what it is now (a large
    /// channel waits longer). Send times older than their interval are
    /// forgotten, so the map holds only keys sent recently.
    pub fn take_due(&self, now: Instant, interval: impl Fn(&K) -> Duration) -> Vec<K> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let mut due = Vec::new();
        state.marked.retain(|key| {
            let waiting = state
                .last_sent
                .get(key)
                .is_some_and(|last| now.duration_since(*last) < interval(key));
            if !waiting {
                due.push(key.clone());
            }
            waiting
        });
        state
            .last_sent
            .retain(|key, last| now.duration_since(*last) < interval(key));
        for key in &due {
            state.last_sent.insert(key.clone(), now);
        }
        due
    }

    /// Keys marked and not yet sent.
    pub fn pending(&self) -> usize {
        self.state.lock().marked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_sent_once_per_interval_and_its_end_is_sent() {
        let throttle = Throttle::new();
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let at = |millis| start + Duration::from_millis(millis);
        throttle.mark("a");
        assert_eq!(throttle.take_due(at(0), |_| second), ["a"]);
        for millis in [10, 20, 500] {
            throttle.mark("a");
            assert!(throttle.take_due(at(millis), |_| second).is_empty());
        }
        assert_eq!(throttle.pending(), 1, "the last change is still owed");
        assert_eq!(throttle.take_due(at(1000), |_| second), ["a"]);
        assert!(throttle.take_due(at(3000), |_| second).is_empty());
        throttle.mark("a");
        assert_eq!(
            throttle.take_due(at(3001), |_| second),
            ["a"],
            "a quiet key is sent at once"
        );
        throttle.mark("b");
        assert_eq!(throttle.take_due(at(3002), |_| Duration::ZERO), ["b"]);
    }
}
