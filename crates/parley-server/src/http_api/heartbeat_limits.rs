//! `HeartbeatLimits`: the per-IP rate limit of presence heartbeats, which
//! anyone may send without an API key (anonymous viewers included); the
//! extractor `WithinHeartbeatLimit` applies it.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, RateLimiter};

use crate::config::Rate;
use crate::rate_clock;

/// A token bucket per client IP address, shared by every app: the rate is
/// also the burst. An IPv6 address counts by its /64 network, since one host
/// commonly holds a whole /64 and could otherwise take a new bucket per
/// request.
pub struct HeartbeatLimits {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
}

impl HeartbeatLimits {
    /// Limits of `rate` heartbeats per address.
    pub fn new(rate: Rate) -> Self {
        Self {
            buckets: RateLimiter::keyed(rate.quota()),
        }
    }

    /// Takes one heartbeat of `ip`, or says how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.buckets
            .check_key(&bucket(ip))
            .map_err(|not_until| not_until.wait_time_from(rate_clock::now()))
    }

    /// Forgets addresses idle long enough that their buckets are full again,
    /// so the map holds only recent callers.
    pub fn forget_idle(&self) {
        self.buckets.retain_recent();
    }
}

/// The bucket of an address: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by
/// its /64 prefix.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_network_shares_one_bucket() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            bucket(ip("2001:db8:1:2:ffff:1:2:3")),
            bucket(ip("2001:db8:1:2::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
