//! Per-namespace message rate limits and slow mode.
//!
//! On a single node the limits live in this node's memory. On a cluster
//! (`[cluster] broker = "redis"`) they are counted in Redis
//! ([`SharedLimits`]), so a user who alternates between nodes is limited
//! once for the deployment; while Redis does not answer, each node falls
//! back to its own count (a user may then send up to the limit on each
//! node) rather than refusing every message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use parking_lot::Mutex;
use parley_cluster::{SharedLimit, SharedLimits};
use parley_core::ChannelName;

use crate::config::NamespaceConfig;

/// The message limits of one namespace of one app.
pub struct MessageLimits {
    /// The namespace's name, part of the shared keys.
    namespace: String,
    /// A token bucket per user, counted across all their connections.
    rate: Option<DefaultKeyedRateLimiter<Arc<str>>>,
    /// One message per user per channel per this period.
    slow_mode: Option<Duration>,
    last_sent: Mutex<HashMap<(Arc<str>, ChannelName), Instant>>,
    /// The deployment's count, on a cluster.
    shared: Option<(Arc<SharedLimits>, SharedLimit)>,
}

impl MessageLimits {
    /// The limits namespace `name` configures, if any, counted in `shared`
    /// when the node is part of a cluster.
    pub fn new(
        name: &str,
        config: &NamespaceConfig,
        shared: Option<Arc<SharedLimits>>,
    ) -> Option<Self> {
        if config.rate.is_none() && config.slow_mode.is_none() {
            return None;
        }
        let rate = config.rate.map(|rate| RateLimiter::keyed(rate.quota()));
        let limit = SharedLimit {
            rate: config.rate.map(|rate| (rate.count, rate.period)),
            slow_mode: config.slow_mode,
        };
        Some(Self {
            namespace: name.to_owned(),
            rate,
            slow_mode: config.slow_mode,
            last_sent: Mutex::default(),
            shared: shared.map(|shared| (shared, limit)),
        })
    }

    /// Takes one message of `user` in `channel` of `app`, or says how long
    /// to wait.
    pub async fn check(
        &self,
        app: &str,
        user: &Arc<str>,
        channel: &ChannelName,
    ) -> Result<(), Duration> {
        if let Some((shared, limit)) = &self.shared {
            match shared
                .check(app, &self.namespace, channel.as_str(), user, *limit)
                .await
            {
                Ok(taken) => return taken,
                Err(error) => {
                    metrics::counter!("parley_limits_local_fallbacks_total").increment(1);
                    tracing::debug!(%error, "shared message limits unreachable; counting on this node");
                }
            }
        }
        self.check_here(user, channel)
    }

    /// The check against this node's own count.
    fn check_here(&self, user: &Arc<str>, channel: &ChannelName) -> Result<(), Duration> {
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
