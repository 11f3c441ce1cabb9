//! `HeartbeatLimits`: the per-IP rate limit of presence heartbeats, which
//! anyone may send without an API key (anonymous viewers included), and
//! `WithinHeartbeatLimit`, the extractor that applies it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;
use super::extract::ClientIp;
use crate::config::Rate;
use crate::state::ServerState;

/// A token bucket per client IP address, shared by every app: the rate is
/// also the burst.
pub struct HeartbeatLimits {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
}

impl HeartbeatLimits {
    /// Limits of `rate` heartbeats per address.
    pub fn new(rate: Rate) -> Self {
        let count = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(rate.period / count.get())
            .expect("a rate's period is above zero")
            .allow_burst(count);
        Self {
            buckets: RateLimiter::keyed(quota),
        }
    }

    /// Takes one heartbeat of `ip`, or says how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.buckets
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets addresses idle long enough that their buckets are full again,
    /// so the map holds only recent callers.
    pub fn forget_idle(&self) {
        self.buckets.retain_recent();
    }
}

/// A heartbeat within its address's limit. Taken before the body is read,
/// so a flood costs neither parsing nor token checks; over the limit it is
/// 429 with `Retry-After`.
pub struct WithinHeartbeatLimit;

impl FromRequestParts<Arc<ServerState>> for WithinHeartbeatLimit {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<ServerState>,
    ) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, server).await;
        server
            .heartbeat_limits
            .check(ip)
            .map_err(|wait| ApiError::too_many("too many heartbeats from this address", wait))?;
        Ok(Self)
    }
}
