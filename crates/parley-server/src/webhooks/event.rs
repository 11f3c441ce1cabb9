//! `WebhookEvent`: one event of a webhook body, and the body itself.

use parley_core::ChannelEvent;
use serde::Serialize;

/// One webhook event as Pusher's receivers read it: `{"name", "channel",
/// ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum WebhookEvent {
    /// The channel got its first subscriber.
    ChannelOccupied {
        /// The channel.
        channel: String,
    },
    /// The channel lost its last subscriber.
    ChannelVacated {
        /// The channel.
        channel: String,
    },
    /// A user joined a presence channel (their first connection in it).
    MemberAdded {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A user left a presence channel (their last connection in it).
    MemberRemoved {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A client sent a `client-*` event.
    ClientEvent {
        /// The channel.
        channel: String,
        /// The event name.
        event: String,
        /// The event data, as the client sent it (JSON text).
        data: String,
        /// The sender's socket id.
        socket_id: String,
        /// The sender's user id, on presence channels.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    /// A client subscribed to a cache channel that held no event.
    CacheMiss {
        /// The channel.
        channel: String,
    },
    /// The channel's subscriber count changed.
    SubscriptionCount {
        /// The channel.
        channel: String,
        /// Its subscribers now.
        subscription_count: usize,
    },
}

impl WebhookEvent {
    /// The event for a channel event of the core.
    pub fn from_channel(channel: &str, event: ChannelEvent) -> Self {
        let channel = channel.to_owned();
        match event {
            ChannelEvent::Occupied => Self::ChannelOccupied { channel },
            ChannelEvent::Vacated => Self::ChannelVacated { channel },
            ChannelEvent::SubscriptionCount(subscription_count) => Self::SubscriptionCount {
                channel,
                subscription_count,
            },
            ChannelEvent::MemberAdded(user) => Self::MemberAdded {
                channel,
                user_id: user.to_string(),
            },
            ChannelEvent::MemberRemoved(user) => Self::MemberRemoved {
                channel,
                user_id: user.to_string(),
            },
        }
    }

    /// The event's name, as in the body and in `[apps.webhooks] events`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ChannelOccupied { .. } => "channel_occupied",
            Self::ChannelVacated { .. } => "channel_vacated",
            Self::MemberAdded { .. } => "member_added",
            Self::MemberRemoved { .. } => "member_removed",
            Self::ClientEvent { .. } => "client_event",
            Self::CacheMiss { .. } => "cache_miss",
            Self::SubscriptionCount { .. } => "subscription_count",
        }
    }

    /// The channel the event is about.
    pub fn channel(&self) -> &str {
        match self {
            Self::ChannelOccupied { channel }
            | Self::ChannelVacated { channel }
            | Self::MemberAdded { channel, .. }
            | Self::MemberRemoved { channel, .. }
            | Self::ClientEvent { channel, .. }
            | Self::CacheMiss { channel }
            | Self::SubscriptionCount { channel, .. } => channel,
        }
    }

    /// Whether the event waits out the hold-back before it is sent.
    pub fn is_held_back(&self) -> bool {
        matches!(
            self,
            Self::MemberRemoved { .. } | Self::ChannelVacated { .. }
        )
    }

    /// Whether this event undoes `held` (a quick re-join or re-subscribe),
    /// so that neither is sent.
    pub fn cancels(&self, held: &Self) -> bool {
        match (self, held) {
            (
                Self::MemberAdded { channel, user_id },
                Self::MemberRemoved {
                    channel: held_channel,
                    user_id: held_user,
                },
            ) => channel == held_channel && user_id == held_user,
            (
                Self::ChannelOccupied { channel },
                Self::ChannelVacated {
                    channel: held_channel,
                },
            ) => channel == held_channel,
            _ => false,
        }
    }
}

/// A webhook request body: `{"time_ms", "events"}`.
#[derive(Serialize)]
pub struct WebhookBody<'a> {
    /// When the batch was sent, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The events, oldest first.
    pub events: &'a [WebhookEvent],
}

impl WebhookBody<'_> {
    /// The body as JSON text, exactly as it is signed.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("webhook bodies serialize to JSON")
    }
}
