//! `[apps.webhooks]`: where an app's webhooks go, which events they carry,
//! and how they are batched, held back and retried.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// The webhook event names Parley sends.
pub const WEBHOOK_EVENTS: [&str; 7] = [
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
];

/// One app's webhooks. Without `urls` the app sends none.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// The receivers; each gets every batch.
    pub urls: Vec<String>,
    /// The events sent. The default is every event but
    /// `subscription_count`, which is sent only when named here.
    pub events: Vec<String>,
    /// How long events are collected into one request.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub batch_window: Duration,
    /// How long `member_removed` and `channel_vacated` wait; a
    /// `member_added` or `channel_occupied` of the same user or channel
    /// within it cancels both.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub hold_back: Duration,
    /// How long a failing delivery is retried, with exponential backoff,
    /// before it is given up.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub retry_for: Duration,
    /// The longest wait between two attempts.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub max_backoff: Duration,
    /// How long one request may take.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            events: WEBHOOK_EVENTS
                .iter()
                .filter(|event| **event != "subscription_count")
                .map(|event| (*event).to_owned())
                .collect(),
            batch_window: Duration::from_millis(250),
            hold_back: Duration::from_secs(3),
            retry_for: Duration::from_secs(600),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookConfig {
    /// Whether the app sends webhooks of `event`.
    pub fn sends(&self, event: &str) -> bool {
        !self.urls.is_empty() && self.events.iter().any(|name| name == event)
    }

    /// What is wrong with these options, if anything.
    pub fn problem(&self) -> Option<String> {
        if let Some(url) = self
            .urls
            .iter()
            .find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Some(format!("webhook url {url:?} is not http(s)"));
        }
        if let Some(event) = self
            .events
            .iter()
            .find(|event| !WEBHOOK_EVENTS.contains(&event.as_str()))
        {
            return Some(format!("unknown webhook event {event:?}"));
        }
        if self.retry_for < Duration::from_secs(300) {
            return Some("webhooks.retry_for must be at least 5m".to_owned());
        }
        if self.max_backoff.is_zero() || self.timeout.is_zero() {
            return Some("webhooks.max_backoff and timeout must be above zero".to_owned());
        }
        None
    }
}
