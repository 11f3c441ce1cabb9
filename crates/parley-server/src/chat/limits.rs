//! Per-namespace message rate limits and slow mode.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use parking_lot::Mutex;
use parley_core::ChannelName;

use crate::config::NamespaceConfig;

/// The message limits of one namespace of one app.
pub struct MessageLimits {
    /// A token bucket per user, counted across all their connections.
    rate: Option<DefaultKeyedRateLimiter<Arc<str>>>,
    /// One message per user per channel per this period.
    slow_mode: Option<Duration>,
    last_sent: Mutex<HashMap<(Arc<str>, ChannelName), Instant>>,
}

impl MessageLimits {
    /// The limits a namespace configures, if any.
    pub fn new(config: &NamespaceConfig) -> Option<Self> {
        if config.rate.is_none() && config.slow_mode.is_none() {
            return None;
        }
        let rate = config.rate.map(|rate| RateLimiter::keyed(rate.quota()));
        Some(Self {
            rate,
            slow_mode: config.slow_mode,
            last_sent: Mutex::default(),
        })
    }

    /// Takes one message of `user` in `channel`, or says how long to wait.
    pub fn check(&self, user: &Arc<str>, channel: &ChannelName) -> Result<(), Duration> {
        let now = Instant::now();
        if let Some(slow) = self.slow_mode {
            let last_sent = self.last_sent.lock();
            if let Some(last) = last_sent.get(&(user.clone(), channel.clone()))
                && now.duration_since(*last) < slow
            {
                return Err(slow - now.duration_since(*last));
            }
        }
        if let Some(rate) = &self.rate
            && let Err(not_until) = rate.check_key(user)
        {
            return Err(not_until.wait_time_from(DefaultClock::default().now()));
        }
        if self.slow_mode.is_some() {
            self.last_sent
                .lock()
                .insert((user.clone(), channel.clone()), now);
        }
        Ok(())
    }

    /// Forgets users idle long enough that their limits are full again.
    pub fn forget_idle(&self) {
        if let Some(rate) = &self.rate {
            rate.retain_recent();
        }
        if let Some(slow) = self.slow_mode {
            let now = Instant::now();
            self.last_sent
                .lock()
                .retain(|_, last| now.duration_since(*last) < slow);
        }
    }
}
