//! The server under test: its address and the URLs built from `--url`.

use std::net::SocketAddr;

/// Where the server listens, resolved once.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` as given, for URLs and the `Host` header.
    authority: String,
    /// The path the server is mounted under, without a trailing slash
    /// (usually empty).
    base_path: String,
    /// The resolved socket address.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses a base URL such as `http://127.0.0.1:7070` (or `ws://…`, or a
    /// bare `host:port`) and resolves its host.
    pub async fn resolve(url: &str) -> Result<Self, String> {
        let (authority, base_path) = split_url(url)?;
        let with_port = if has_port(&authority) {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|error| format!("cannot resolve {authority:?}: {error}"))?
            .next()
            .ok_or_else(|| format!("{authority:?} resolves to no address"))?;
        Ok(Self {
            authority,
            base_path,
            addr,
        })
    }

    /// The WebSocket URL of `path` (which starts with `/`) on the server.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}{path}", self.authority, self.base_path)
    }

    /// The server's `host:port` as given, for the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The HTTP URL of `path` (which starts with `/`) on the server.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}{path}", self.authority, self.base_path)
    }

    /// The full request path of `path` as the server sees it.
    pub fn request_path(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }
}

/// Splits a URL into its authority and its path, refusing TLS schemes.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = if let Some((scheme, rest)) = url.split_once("://") {
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => rest,
            "https" | "wss" => {
                return Err(format!(
                    "{url:?}: TLS is not supported; benchmark the server over plain HTTP"
                ));
            }
            other => return Err(format!("{url:?}: unknown scheme {other:?}")),
        }
    } else {
        url
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    Ok((authority.to_owned(), path.trim_end_matches('/').to_owned()))
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(colon) => !authority[colon..].contains(']'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_base_path() {
        let split = |url| split_url(url).unwrap();
        assert_eq!(
            split("http://127.0.0.1:7070"),
            ("127.0.0.1:7070".into(), String::new())
        );
        assert_eq!(
            split("ws://localhost:6001/realtime/"),
            ("localhost:6001".into(), "/realtime".into())
        );
        assert_eq!(
            split("127.0.0.1:7070"),
            ("127.0.0.1:7070".into(), String::new())
        );
        assert!(split_url("https://example.test").is_err());
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("http:///x").is_err());
    }

    #[test]
    fn ports_are_found_in_ipv4_and_ipv6_authorities() {
        assert!(has_port("127.0.0.1:7070"));
        assert!(!has_port("localhost"));
        assert!(has_port("[::1]:7070"));
        assert!(!has_port("[::1]"));
    }

    #[tokio::test]
    async fn urls_are_built_under_the_base_path() {
        let target = Target::resolve("http://127.0.0.1:7070/rt").await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:7070".parse().unwrap());
        assert_eq!(target.ws_url("/ws"), "ws://127.0.0.1:7070/rt/ws");
        assert_eq!(
            target.http_url("/api/v1/batch"),
            "http://127.0.0.1:7070/rt/api/v1/batch"
        );
        assert_eq!(target.request_path("/apps/1/events"), "/rt/apps/1/events");
    }
}
