//! The `[web]` section: the admin UI and the demo app the server serves,
//! and the `demo` namespace the demo adds when the configuration has none.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, NamespaceConfig, Rate, ReadReceipts};

/// The namespace the demo app chats in.
pub const DEMO_NAMESPACE: &str = "demo";

/// Which web pages the server serves (`[web]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the admin UI at `/admin`. The pages are static; every call they
    /// make to the HTTP API needs an API key.
    pub admin: bool,
    /// Serve the demo chat at `/demo`, the SDK at `/sdk/`, and mint guest
    /// tokens at `POST /demo/token`.
    pub demo: bool,
    /// Guest tokens one client IP address may get, as `"<count>/<s|min|h>"`
    /// (also the burst).
    pub demo_tokens_per_ip: Rate,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            admin: true,
            demo: false,
            demo_tokens_per_ip: Rate {
                count: 10,
                period: Duration::from_secs(60),
            },
        }
    }
}

impl WebConfig {
    /// What is wrong with the options, if anything.
    pub fn problem(&self) -> Option<String> {
        (self.demo_tokens_per_ip.count == 0)
            .then(|| "web.demo_tokens_per_ip must allow at least one token".to_owned())
    }
}

/// The options of the `demo` namespace added for the demo app: persisted
/// chat with presence, typing, read receipts in the room, and limits that
/// suit strangers trying it out.
pub fn demo_namespace() -> NamespaceConfig {
    NamespaceConfig {
        persist: true,
        presence: true,
        typing: true,
        read_receipts: ReadReceipts::Room,
        max_message_length: 2000,
        rate: Some(Rate {
            count: 30,
            period: Duration::from_secs(60),
        }),
        ..NamespaceConfig::default()
    }
}

impl Config {
    /// Turns the demo on (`parley serve --demo`, `[web] demo = true`,
    /// `PARLEY_WEB_DEMO`): the default app gets the `demo` namespace unless
    /// the configuration has one, which is then used as it is.
    pub fn enable_demo(&mut self) {
        self.web.demo = true;
        if let Some(app) = self.apps.first_mut() {
            app.namespaces
                .entry(DEMO_NAMESPACE.to_owned())
                .or_insert_with(demo_namespace);
        }
    }

    /// The demo namespace's problem when the configuration gave its own
    /// `demo` namespace that cannot carry the demo's chat.
    pub(super) fn demo_problem(&self) -> Option<String> {
        if !self.web.demo {
            return None;
        }
        let namespace = self.apps.first()?.namespaces.get(DEMO_NAMESPACE)?;
        (!namespace.persist || !namespace.presence || namespace.private || namespace.members_only)
            .then(|| {
                "the demo needs its namespace \"demo\" with persist = true and presence = true, \
                 not private and not members_only (or no \"demo\" namespace, and the server adds one)"
                    .to_owned()
            })
    }
}
