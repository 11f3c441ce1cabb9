//! One namespace's options as written in the configuration file.

use std::num::NonZeroU32;
use std::time::Duration;

use parley_core::{Durability, Namespace};
use serde::{Deserialize, Serialize};

/// One namespace's options, as written in `[namespaces.<name>]`. Every field
/// has the default of [`Namespace::new`].
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceConfig {
    /// Clients may publish.
    pub allow_publish: bool,
    /// Connections without a token may subscribe.
    pub anonymous: bool,
    /// Subscribing needs a channel token.
    pub private: bool,
    /// The largest payload accepted, in bytes.
    pub max_message_bytes: usize,
    /// Subscribers join the channel's presence.
    pub presence: bool,
    /// Push joins and leaves.
    pub join_leave: bool,
    /// Lifetime of a presence lease without renewal.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub presence_ttl: Duration,
    /// Batching window of join and leave pushes.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub presence_batch: Duration,
    /// The largest member state, in bytes.
    pub max_presence_state_bytes: usize,
    /// How long a heartbeat-only viewer stays after its last heartbeat.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub stale_after: Duration,
    /// Heartbeat sessions (`POST /api/v1/presence/heartbeat`) one channel
    /// holds at most; a new session past it gets 409.
    pub max_heartbeat_sessions: usize,
    /// Push `presence_stats` to the channel's subscribers when its counts
    /// change, at most once per this interval (`"1s"`); unset, none is
    /// pushed.
    #[serde(deserialize_with = "super::duration::optional")]
    pub presence_stats_interval: Option<Duration>,
    /// Clients may send typing indicators.
    pub typing: bool,
    /// How long a typer stays without a new typing event.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub typing_timeout: Duration,
    /// Channels `<namespace>:<user id>` carry that user's status.
    pub user_status: bool,
    /// Keep the channels' streams in the store: chat messages, history and
    /// recovery across restarts.
    pub persist: bool,
    /// The longest chat message text, in characters.
    pub max_message_length: usize,
    /// The most publications one recovery replays; a client further behind
    /// is told `recovered: false` and reloads.
    pub max_recovery: usize,
    /// Messages per user in this namespace, as `"<count>/<s|min|h>"`.
    pub rate: Option<Rate>,
    /// At most one message per user per channel in this period.
    #[serde(
        deserialize_with = "super::duration::optional",
        serialize_with = "super::duration::serialize_optional"
    )]
    pub slow_mode: Option<Duration>,
    /// Publications kept per channel: in memory for recovery, or as the
    /// store's retention when `persist` is on; 0 keeps none in memory and
    /// sets no bound in the store.
    pub history_size: usize,
    /// How long kept publications live; `"0s"` is no age limit.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub history_ttl: Duration,
    /// Channels are rooms: only their members subscribe, read and send
    /// (needs `persist`). Personal channels (`<namespace>:inbox#<user>`)
    /// stay their users' own.
    pub members_only: bool,
    /// Users with a token may create rooms here (`room_create`); when off,
    /// only the server API does.
    pub client_rooms: bool,
    /// Who sees read markers move: `private` (only the reader) or `room`
    /// (a `read_updated` push in the channel's stream).
    pub read_receipts: ReadReceipts,
    /// Who may pin: `moderators` (token roles `moderator`/`admin`, room
    /// owners and moderators) or `members` (everyone who may send).
    pub pins: PinPermission,
    /// The text filter of chat messages (profanity and a word list), if any.
    pub filter: Option<crate::chat::filter::FilterConfig>,
    /// Channels hold live documents (`doc_set`, `doc_watch`, …; needs
    /// `persist`: every change is an event of the channel's stream).
    pub documents: bool,
    /// The largest document, in bytes of JSON.
    pub max_document_bytes: usize,
    /// The most documents one channel holds.
    pub max_documents: usize,
    /// Document writes per user in this namespace, as `"<count>/<s|min|h>"`.
    pub document_rate: Option<Rate>,
}

/// Who sees read markers move.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadReceipts {
    /// Only the reader.
    #[default]
    Private,
    /// The whole channel, as `read_updated` pushes.
    Room,
}

/// Who may pin messages.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PinPermission {
    /// Moderators only.
    #[default]
    Moderators,
    /// Everyone who may send to the channel.
    Members,
}

/// A rate such as `10/min`: `count` messages per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages allowed per period (also the burst).
    pub count: u32,
    /// The period.
    pub period: Duration,
}

impl Rate {
    /// The token bucket of this rate: `count` at once (the burst), refilled
    /// evenly over `period`.
    pub fn quota(&self) -> governor::Quota {
        let count = NonZeroU32::new(self.count).unwrap_or(NonZeroU32::MIN);
        // At least a nanosecond per token: "4294967295/s" would otherwise
        // divide down to a zero period, which a quota cannot have.
        let period = (self.period / count.get()).max(Duration::from_nanos(1));
        governor::Quota::with_period(period)
            .expect("the period is at least a nanosecond")
            .allow_burst(count)
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid rate {text:?}: write it as 10/min, 5/s or 100/h");
        let (count, unit) = text.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        if count == 0 {
            return Err(invalid());
        }
        Ok(Self { count, period })
    }
}

/// As the file writes it: `"10/min"`, with the largest unit that divides
/// the period (`"10/90s"` is not a rate the file can hold, and no rate is
/// built with such a period).
impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period.as_secs() {
            3600 => "h",
            60 => "min",
            _ => "s",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        let defaults = Namespace::new(Namespace::DEFAULT);
        Self {
            allow_publish: defaults.allow_publish,
            anonymous: defaults.anonymous,
            private: defaults.private,
            max_message_bytes: defaults.max_message_bytes,
            presence: defaults.presence,
            join_leave: defaults.join_leave,
            presence_ttl: defaults.presence_ttl,
            presence_batch: defaults.presence_batch,
            max_presence_state_bytes: defaults.max_presence_state_bytes,
            stale_after: defaults.stale_after,
            max_heartbeat_sessions: defaults.max_heartbeat_sessions,
            presence_stats_interval: defaults.presence_stats_interval,
            typing: defaults.typing,
            typing_timeout: defaults.typing_timeout,
            user_status: defaults.user_status,
            persist: false,
            max_message_length: 1000,
            max_recovery: 300,
            rate: None,
            slow_mode: None,
            history_size: defaults.history_size,
            history_ttl: defaults.history_ttl,
            members_only: false,
            client_rooms: true,
            read_receipts: ReadReceipts::Private,
            pins: PinPermission::Moderators,
            filter: None,
            documents: false,
            max_document_bytes: 64 * 1024,
            max_documents: 10_000,
            document_rate: Some(Rate {
                count: 20,
                period: Duration::from_secs(1),
            }),
        }
    }
}

impl NamespaceConfig {
    /// The domain namespace named `name` with these options.
    pub fn to_namespace(&self, name: &str) -> Namespace {
        Namespace {
            name: name.to_owned(),
            allow_publish: self.allow_publish,
            anonymous: self.anonymous,
            private: self.private,
            max_message_bytes: self.max_message_bytes,
            presence: self.presence,
            join_leave: self.join_leave,
            presence_ttl: self.presence_ttl,
            presence_batch: self.presence_batch,
            max_presence_state_bytes: self.max_presence_state_bytes,
            stale_after: self.stale_after,
            max_heartbeat_sessions: self.max_heartbeat_sessions,
            presence_stats_interval: self.presence_stats_interval,
            typing: self.typing,
            typing_timeout: self.typing_timeout,
            user_status: self.user_status,
            history_size: self.history_size,
            history_ttl: self.history_ttl,
            durability: if self.persist {
                Durability::Persisted
            } else {
                Durability::Transient
            },
            max_recovery: self.max_recovery,
        }
    }

    /// What is wrong with these options, given the server's ping interval
    /// and queue bound.
    pub fn problem(&self, ping_interval: Duration, max_queue_bytes: usize) -> Option<String> {
        if self.max_message_bytes == 0 || self.max_message_bytes + 1024 > max_queue_bytes {
            return Some(
                "max_message_bytes must be above zero and at least 1 KiB below max_queue_bytes"
                    .into(),
            );
        }
        if self.presence && self.presence_ttl <= ping_interval {
            return Some(
                "presence_ttl must be longer than ping_interval, or leases expire between renewals"
                    .into(),
            );
        }
        if !self.persist && self.history_size > 100_000 {
            return Some("history_size of an in-memory namespace must be at most 100000".into());
        }
        if self.members_only && !self.persist {
            return Some("members_only needs persist = true: rooms live in the store".into());
        }
        if self.documents && !self.persist {
            return Some("documents needs persist = true: documents live in the store".into());
        }
        if self.documents
            && (self.max_document_bytes == 0 || self.max_document_bytes + 1024 > max_queue_bytes)
        {
            return Some(
                "max_document_bytes must be above zero and at least 1 KiB below max_queue_bytes"
                    .into(),
            );
        }
        if self.documents && self.max_documents == 0 {
            return Some("max_documents must be above zero".into());
        }
        if let Some(problem) = self.filter.as_ref().and_then(|filter| filter.problem()) {
            return Some(problem);
        }
        if self.max_heartbeat_sessions == 0 {
            return Some("max_heartbeat_sessions must be above zero".into());
        }
        if self.max_message_length == 0 {
            return Some("max_message_length must be above zero".into());
        }
        if self.max_recovery == 0 || self.max_recovery > parley_store::MAX_RECOVERY {
            return Some(format!(
                "max_recovery must be 1 to {}",
                parley_store::MAX_RECOVERY
            ));
        }
        if self
            .presence_stats_interval
            .is_some_and(|interval| interval.is_zero())
        {
            return Some(
                "presence_stats_interval must be above zero (leave it out for none)".into(),
            );
        }
        if self.presence_stats_interval.is_some() && !self.presence {
            return Some("presence_stats_interval needs presence = true".into());
        }
        if self.presence_batch.is_zero()
            || self.typing_timeout.is_zero()
            || self.stale_after.is_zero()
        {
            return Some(
                "presence_batch, typing_timeout and stale_after must be above zero".into(),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_token_bucket_even_at_the_extremes() {
        let quota = "10/min".parse::<Rate>().unwrap().quota();
        assert_eq!(quota.burst_size().get(), 10);
        assert_eq!(quota.replenish_interval(), Duration::from_secs(6));
        // More tokens a second than nanoseconds: one per nanosecond.
        let quota = "4294967295/s".parse::<Rate>().unwrap().quota();
        assert_eq!(quota.burst_size().get(), u32::MAX);
        assert_eq!(quota.replenish_interval(), Duration::from_nanos(1));
        assert!("0/s".parse::<Rate>().is_err());
    }

    #[test]
    fn live_counts_need_presence_and_an_interval_above_zero() {
        let live = |presence, interval| NamespaceConfig {
            presence,
            presence_stats_interval: interval,
            ..NamespaceConfig::default()
        };
        let problem = |config: NamespaceConfig| config.problem(Duration::from_secs(25), 1 << 20);
        assert_eq!(problem(live(true, Some(Duration::from_secs(1)))), None);
        assert_eq!(problem(live(false, None)), None);
        let without_presence = problem(live(false, Some(Duration::from_secs(1))));
        assert!(without_presence.is_some_and(|problem| problem.contains("presence = true")));
        let zero = problem(live(true, Some(Duration::ZERO)));
        assert!(zero.is_some_and(|problem| problem.contains("above zero")));
    }
}
