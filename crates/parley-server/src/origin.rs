//! Browser origins: which may open WebSockets and call the HTTP API.
//!
//! Cross-site WebSocket hijacking works because browsers send cookies with
//! a WebSocket upgrade from any page; checking `Origin` is the defence.

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use parking_lot::Mutex;

/// How many distinct refused origins one app logs. Past it refusals are no
/// longer logged, so a client sending made-up origins can neither grow the
/// set nor flood the log.
const MAX_LOGGED_REFUSALS: usize = 64;

/// The origins one app allows.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// The app's id, named in the log line of a refusal.
    app: String,
    any: bool,
    origins: HashSet<String>,
    /// Whether pages served from this machine (`http://localhost:*`,
    /// `http://127.0.0.1:*`, `http://[::1]:*`) are allowed: a server that
    /// listens on a loopback address, where only this machine reaches it,
    /// lets a development server on another port use it unconfigured.
    local_pages: bool,
    /// The refused origins logged already: each is logged once, with the
    /// option that would allow it, since an operator whose browser page is
    /// refused otherwise sees only a 403 in the browser.
    logged: Arc<Mutex<HashSet<String>>>,
}

impl OriginPolicy {
    /// The policy of the app `app` from its configured list; `"*"` allows
    /// every origin.
    pub fn new(app: &str, allowed: &[String]) -> Self {
        Self {
            app: app.to_owned(),
            any: allowed.iter().any(|origin| origin == "*"),
            origins: allowed
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            local_pages: false,
            logged: Arc::default(),
        }
    }

    /// The same policy, also allowing pages served from this machine over
    /// `http` on any port (for a server listening on loopback).
    pub fn with_local_pages(mut self, allowed: bool) -> Self {
        self.local_pages = allowed;
        self
    }

    /// Whether an origin is on the list (not counting same-origin requests).
    pub fn lists(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.any
            || self.origins.contains(origin.trim_end_matches('/'))
            || (self.local_pages && is_local_page(&origin))
    }

    /// Whether a request with these headers may proceed: it has no `Origin`
    /// (not a browser), comes from the server's own origin, or from a listed
    /// origin.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            self.log_refusal("(not text)");
            return false;
        };
        let allowed = self.lists(origin) || is_same_origin(origin, headers);
        if !allowed {
            self.log_refusal(origin);
        }
        allowed
    }

    /// Logs a refused origin at info the first time it is refused.
    fn log_refusal(&self, origin: &str) {
        let mut logged = self.logged.lock();
        if logged.len() >= MAX_LOGGED_REFUSALS || !logged.insert(origin.to_owned()) {
            return;
        }
        drop(logged);
        tracing::info!(
            app = %self.app,
            origin,
            "refused a request from origin {origin:?}: to allow it, add it to the app's \
             allowed_origins (allowed_origins = [{origin:?}] in the [[apps]] table with id = {:?}); \
             logged once per origin",
            self.app
        );
    }
}

/// Whether a (lowercased) origin is a page served over `http` from this
/// machine: `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_local_page(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
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

    #[test]
    fn local_pages_are_allowed_only_when_asked_and_only_over_http_from_this_machine() {
        let listed = OriginPolicy::new("main", &["https://app.example.com".into()]);
        let local = listed.clone().with_local_pages(true);
        for origin in [
            "http://localhost:5173",
            "http://LOCALHOST:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:4000",
            "http://localhost",
        ] {
            assert!(local.lists(origin), "{origin}");
            assert!(!listed.lists(origin), "{origin} without local pages");
        }
        for origin in [
            "https://localhost:5173",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example:80",
            "http://localhost:80x",
            "http://evil.example",
        ] {
            assert!(!local.lists(origin), "{origin}");
        }
        assert!(local.lists("https://app.example.com/"));
    }

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
        let policy = OriginPolicy::new("main", &["https://app.example.com/".into()]);
        assert!(policy.allows(&headers(None, "parley:7070")));
        assert!(policy.allows(&headers(Some("https://APP.example.com"), "parley:7070")));
        assert!(policy.allows(&headers(Some("http://parley:7070"), "parley:7070")));
        assert!(!policy.allows(&headers(Some("https://evil.example"), "parley:7070")));
        assert!(!policy.allows(&headers(Some("null"), "parley:7070")));
        assert!(
            OriginPolicy::new("main", &["*".into()]).allows(&headers(Some("https://x.y"), "h"))
        );
    }
}
