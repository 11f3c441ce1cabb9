//! Opening client TCP sockets, optionally spread over several source
//! addresses (`--source-ips`) so that one destination can take more
//! connections than one source address has ephemeral ports.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use tokio::net::{TcpSocket, TcpStream};

/// The most source addresses one `--source-ips` range may name.
const MAX_SOURCES: usize = 65_536;

/// Source addresses to bind client sockets to, used in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIps(Vec<IpAddr>);

impl SourceIps {
    /// The addresses, in the order they are used.
    pub fn addrs(&self) -> &[IpAddr] {
        &self.0
    }
}

impl FromStr for SourceIps {
    type Err = String;

    /// Parses `127.0.0.2-127.0.0.9` (an IPv4 range, both ends included) or
    /// a comma-separated list of addresses.
    fn from_str(text: &str) -> Result<Self, String> {
        let parse = |part: &str| {
            part.trim()
                .parse::<IpAddr>()
                .map_err(|error| format!("{part:?} is not an IP address: {error}"))
        };
        if let Some((first, last)) = text.split_once('-') {
            let (IpAddr::V4(first), IpAddr::V4(last)) = (parse(first)?, parse(last)?) else {
                return Err("address ranges are IPv4 only; list IPv6 addresses with commas".into());
            };
            let (first, last) = (u32::from(first), u32::from(last));
            if last < first {
                return Err(format!("{text:?}: the range ends before it starts"));
            }
            if (last - first) as usize >= MAX_SOURCES {
                return Err(format!("{text:?}: at most {MAX_SOURCES} addresses"));
            }
            return Ok(Self(
                (first..=last)
                    .map(|ip| IpAddr::V4(Ipv4Addr::from(ip)))
                    .collect(),
            ));
        }
        let addrs = text
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err("no source address given".into());
        }
        Ok(Self(addrs))
    }
}

impl fmt::Display for SourceIps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => Ok(()),
            [only] => write!(f, "{only}"),
            [first, .., last] => write!(f, "{first}-{last} ({} addresses)", self.0.len()),
        }
    }
}

/// Opens TCP connections to the server.
#[derive(Debug, Clone)]
pub struct Dialer {
    target: SocketAddr,
    sources: Vec<IpAddr>,
}

impl Dialer {
    /// A dialer for `target`, binding to `sources` in turn when given.
    pub fn new(target: SocketAddr, sources: Option<&SourceIps>) -> Self {
        Self {
            target,
            sources: sources.map_or_else(Vec::new, |s| s.0.clone()),
        }
    }

    /// Opens connection number `index`, from source address
    /// `index % sources` when source addresses are set.
    pub async fn connect(&self, index: usize) -> io::Result<TcpStream> {
        let stream = if self.sources.is_empty() {
            TcpStream::connect(self.target).await?
        } else {
            let source = self.sources[index % self.sources.len()];
            let socket = match source {
                IpAddr::V4(_) => TcpSocket::new_v4()?,
                IpAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(self.target).await?
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_parse() {
        let range: SourceIps = "127.0.0.2-127.0.0.9".parse().unwrap();
        assert_eq!(range.addrs().len(), 8);
        assert_eq!(range.addrs()[0], "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(range.addrs()[7], "127.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(range.to_string(), "127.0.0.2-127.0.0.9 (8 addresses)");
        let list: SourceIps = "127.0.0.2, ::1".parse().unwrap();
        assert_eq!(list.addrs().len(), 2);
        assert!("127.0.0.9-127.0.0.2".parse::<SourceIps>().is_err());
        assert!("::1-::2".parse::<SourceIps>().is_err());
        assert!("".parse::<SourceIps>().is_err());
        assert!("nope".parse::<SourceIps>().is_err());
    }

    #[tokio::test]
    async fn sockets_bind_to_the_source_addresses_in_turn() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sources: SourceIps = "127.0.0.2-127.0.0.3".parse().unwrap();
        let dialer = Dialer::new(listener.local_addr().unwrap(), Some(&sources));
        for index in 0..2 {
            let stream = dialer.connect(index).await.unwrap();
            assert_eq!(stream.local_addr().unwrap().ip(), sources.addrs()[index]);
        }
    }
}
