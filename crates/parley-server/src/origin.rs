//! Browser origins: which may open WebSockets and call the HTTP API.
//!
//! Cross-site WebSocket hijacking works because browsers send cookies with
//! a WebSocket upgrade from any page; checking `Origin` is the defence.

use std::collections::HashSet;

use axum::http::{HeaderMap, header};

/// The origins one app allows.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    any: bool,
    origins: HashSet<String>,
}

impl OriginPolicy {
    /// A policy from the configured list; `"*"` allows every origin.
    pub fn new(allowed: &[String]) -> Self {
        Self {
            any: allowed.iter().any(|origin| origin == "*"),
            origins: allowed
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether an origin is on the list (not counting same-origin requests).
    pub fn lists(&self, origin: &str) -> bool {
        self.any || self.origins.contains(&origin.to_ascii_lowercase())
    }

    /// Whether a request with these headers may proceed: it has no `Origin`
    /// (not a browser), comes from the server's own origin, or from a listed
    /// origin.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        self.lists(origin) || is_same_origin(origin, headers)
    }
}

fn is_same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn origins() {
        let policy = OriginPolicy::new(&["https://app.example.com/".into()]);
        assert!(policy.allows(&headers(None, "parley:7070")));
        assert!(policy.allows(&headers(Some("https://APP.example.com"), "parley:7070")));
        assert!(policy.allows(&headers(Some("http://parley:7070"), "parley:7070")));
        assert!(!policy.allows(&headers(Some("https://evil.example"), "parley:7070")));
        assert!(!policy.allows(&headers(Some("null"), "parley:7070")));
        assert!(OriginPolicy::new(&["*".into()]).allows(&headers(Some("https://x.y"), "h")));
    }
}
