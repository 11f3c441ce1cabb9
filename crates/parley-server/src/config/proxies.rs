//! `trusted_proxies`: the reverse proxies whose `X-Forwarded-For` header
//! names the client, so per-address limits count viewers, not the proxy.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Networks of trusted reverse proxies (`"10.0.0.0/8"`, or one address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies in `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// The client of a request that came from `peer`: the peer itself,
    /// unless it is a trusted proxy; then the right-most address of
    /// `X-Forwarded-For` that is not a trusted proxy (each proxy appends the
    /// address it received from, so addresses further left are the
    /// client's own word and could be forged). A malformed entry ends the
    /// walk at the last trusted address.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// As the file writes them: a list of networks (`"10.0.0.0/8"`).
impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        entries
            .iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        serde::de::Error::custom(format!(
                            "trusted_proxies: {entry:?} is not an IP address or network (such as \"10.0.0.0/8\")"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        let toml = format!(
            "p = [{}]",
            entries
                .iter()
                .map(|entry| format!("{entry:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        #[derive(Deserialize)]
        struct Wrapper {
            p: TrustedProxies,
        }
        toml::from_str::<Wrapper>(&toml).unwrap().p
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let headers = forwarded(&["6.6.6.6, 203.0.113.9, 10.1.2.3"]);
        // Through two trusted proxies: the address the outer one saw.
        assert_eq!(trusted.client(ip("192.0.2.1"), &headers), ip("203.0.113.9"));
        // Headers split over several lines count in order.
        let split = forwarded(&["6.6.6.6", "203.0.113.9, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &split), ip("203.0.113.9"));
        // From an untrusted peer the header is ignored.
        assert_eq!(
            trusted.client(ip("198.51.100.7"), &headers),
            ip("198.51.100.7")
        );
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // A malformed entry stops at the last trusted hop.
        let bad = forwarded(&["203.0.113.9, nonsense, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &bad), ip("10.1.2.3"));
        // Nobody trusted: always the peer.
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
    }

    #[test]
    fn entries_are_networks_or_addresses() {
        assert!(proxies(&["::1", "fd00::/8", "127.0.0.1"]).trusts(ip("fd12::1")));
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wrapper {
            p: TrustedProxies,
        }
        let error = toml::from_str::<Wrapper>("p = [\"proxy.internal\"]").unwrap_err();
        assert!(
            error.to_string().contains("not an IP address or network"),
            "{error}"
        );
    }
}
