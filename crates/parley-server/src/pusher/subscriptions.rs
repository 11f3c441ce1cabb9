//! Subscriptions of a Pusher connection: `pusher:subscribe` with signed
//! auth, presence per user from `channel_data`, `pusher:unsubscribe`, and
//! the presence leases a connection renews and gives up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_core::{ChannelName, MemberInfo, Namespace};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::cache::is_cache_channel;
use super::incoming::{SubscribeData, UnsubscribeData};
use super::push::{Event, internal_event};
use super::session::PusherSession;
use super::sign;
use super::signin::SERVER_TO_USER_PREFIX;
use crate::state::AppContext;

/// The longest Pusher channel name.
const MAX_CHANNEL_NAME: usize = 164;

/// What the connection holds in one channel.
pub(super) struct Subscription {
    /// The member it is in a presence channel, from its `channel_data`.
    pub(super) member: Option<(Arc<str>, Arc<MemberInfo>)>,
}

/// The `channel_data` of a presence subscription.
#[derive(Deserialize)]
struct ChannelData {
    user_id: UserId,
    #[serde(default)]
    user_info: Option<Box<RawValue>>,
}

/// A user id, which some backends send as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum UserId {
    Text(String),
    Number(serde_json::Number),
}

/// The data of `pusher:subscription_error`.
#[derive(Serialize)]
struct SubscriptionErrorData<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    error: &'a str,
    status: u16,
}

/// The data of a presence channel's `pusher_internal:subscription_succeeded`.
#[derive(Serialize)]
struct PresenceData<'a> {
    presence: PresenceSet<'a>,
}

#[derive(Serialize)]
struct PresenceSet<'a> {
    ids: Vec<&'a str>,
    hash: HashMap<&'a str, &'a RawValue>,
    count: usize,
}

/// Why a subscription was refused, for `pusher:subscription_error`.
struct Refusal {
    kind: &'static str,
    message: String,
    status: u16,
}

impl Refusal {
    fn new(kind: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status,
        }
    }
}

impl PusherSession {
    /// Handles `pusher:subscribe`: subscribes, or answers
    /// `pusher:subscription_error` on the channel (the socket stays open).
    pub(super) async fn subscribe_or_refuse(&mut self, data: SubscribeData) {
        let channel = data.channel.clone();
        if let Err(refusal) = self.subscribe(data).await {
            self.send(
                Event {
                    event: "pusher:subscription_error",
                    channel: Some(&channel),
                    data: &SubscriptionErrorData {
                        kind: refusal.kind,
                        error: &refusal.message,
                        status: refusal.status,
                    },
                    user_id: None,
                }
                .frame(),
            );
        }
    }

    async fn subscribe(&mut self, data: SubscribeData) -> Result<(), Refusal> {
        let name = data.channel.as_str();
        let user_channel = name.starts_with(SERVER_TO_USER_PREFIX);
        let body = name.strip_prefix('#').unwrap_or(name);
        let valid = !body.is_empty()
            && name.len() <= MAX_CHANNEL_NAME
            && (user_channel || !name.starts_with('#'))
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b));
        let channel = match ChannelName::new(name) {
            Ok(channel) if valid => channel,
            _ => return Err(Refusal::new("InvalidChannel", 400, "invalid channel name")),
        };
        if user_channel && !self.owns_user_channel(name) {
            return Err(Refusal::new(
                "AuthError",
                401,
                "sign in as this user to subscribe to their channel",
            ));
        }
        if crate::chat::rooms::is_room_channel(&self.app, &channel) {
            // Membership needs a user id, which only native clients carry.
            return Err(Refusal::new(
                "Forbidden",
                403,
                "rooms are for native clients",
            ));
        }
        if self.subscriptions.contains_key(&channel) {
            if self.app.app.hub.is_subscribed(self.client.id, &channel) {
                return Err(Refusal::new("AlreadySubscribed", 400, "already subscribed"));
            }
            // The server ended this subscription (a ban).
            self.subscriptions.remove(&channel);
        }
        let limit = self.app.app.options.max_subscriptions_per_client;
        if self.subscriptions.len() >= limit {
            return Err(Refusal::new(
                "TooManySubscriptions",
                403,
                "too many subscriptions",
            ));
        }
        let presence = name.starts_with("presence-");
        let private = presence || name.starts_with("private-");
        // pusher-js sends `channel_data` as a string; some clients send the
        // object itself. The signature covers the text either way.
        let channel_data = data.channel_data.as_deref().map(|raw| {
            serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())
        });
        if private {
            let key = &self.app.config.key;
            let secret = &self.app.config.secret;
            let signed = data.auth.as_deref().is_some_and(|auth| {
                sign::verify_channel_auth(
                    key,
                    secret,
                    auth,
                    &self.socket_id,
                    name,
                    channel_data.as_deref().filter(|_| presence),
                )
            });
            if !signed {
                return Err(Refusal::new("AuthError", 401, "invalid signature"));
            }
        }
        let member = match (presence, channel_data) {
            (false, _) => None,
            (true, None) => {
                return Err(Refusal::new(
                    "AuthError",
                    400,
                    "presence needs channel_data",
                ));
            }
            (true, Some(text)) => Some(self.member(&text)?),
        };
        let app = &self.app.app;
        let node = &self.server.node;
        if let Some((user, info)) = &member {
            let namespace = self.presence_namespace(&channel);
            let max = self.app.config.pusher.max_presence_members;
            let page = node
                .presence_members(app, &channel, None, max.saturating_add(1))
                .await
                .map_err(|_| Refusal::new("InternalError", 500, "presence unavailable"))?;
            if page.members.len() >= max && !page.members.iter().any(|m| m.user == *user) {
                return Err(Refusal::new(
                    "LimitReached",
                    403,
                    "presence channel is full",
                ));
            }
            // Joined before subscribing, so the member hears of others only.
            node.presence_join_as(
                app,
                self.client.id,
                &channel,
                &namespace,
                user.clone(),
                info.clone(),
            )
            .await
            .map_err(|_| Refusal::new("InternalError", 500, "presence unavailable"))?;
        }
        if node
            .subscribe(app, &self.client, &channel, false)
            .await
            .is_err()
        {
            if member.is_some() {
                let namespace = self.presence_namespace(&channel);
                node.presence_leave(app, self.client.id, &channel, &namespace)
                    .await;
            }
            return Err(Refusal::new("InternalError", 500, "subscribe failed"));
        }
        let succeeded = if member.is_some() {
            let max = self.app.config.pusher.max_presence_members;
            let page = node
                .presence_members(app, &channel, None, max)
                .await
                .unwrap_or_default();
            let null = RawValue::NULL;
            let hash = page
                .members
                .iter()
                .map(|member| {
                    let info = member
                        .info
                        .info
                        .as_ref()
                        .and_then(|info| std::str::from_utf8(info).ok())
                        .and_then(|info| serde_json::from_str::<&RawValue>(info).ok())
                        .unwrap_or(null);
                    (&*member.user, info)
                })
                .collect();
            let data = PresenceData {
                presence: PresenceSet {
                    ids: page.members.iter().map(|member| &*member.user).collect(),
                    hash,
                    count: page.members.len(),
                },
            };
            internal_event("pusher_internal:subscription_succeeded", Some(name), &data)
        } else {
            internal_event(
                "pusher_internal:subscription_succeeded",
                Some(name),
                &serde_json::Map::new(),
            )
        };
        self.subscriptions.insert(channel, Subscription { member });
        self.send(succeeded);
        if is_cache_channel(name) {
            self.replay_cache(name).await;
        }
        Ok(())
    }

    /// The member a presence subscription's `channel_data` names.
    fn member(&self, text: &str) -> Result<(Arc<str>, Arc<MemberInfo>), Refusal> {
        let limits = &self.app.config.pusher;
        let data: ChannelData = serde_json::from_str(text)
            .map_err(|_| Refusal::new("InvalidChannelData", 400, "channel_data needs a user_id"))?;
        let user = match data.user_id {
            UserId::Text(user) => user,
            UserId::Number(number) => number.to_string(),
        };
        if user.is_empty() || user.len() > limits.max_user_id_bytes {
            return Err(Refusal::new("InvalidChannelData", 400, "invalid user_id"));
        }
        let info = data.user_info.map(|info| info.get().to_owned());
        if info
            .as_ref()
            .is_some_and(|info| info.len() > limits.max_user_info_bytes)
        {
            return Err(Refusal::new(
                "InvalidChannelData",
                413,
                "user_info too large",
            ));
        }
        let info = MemberInfo {
            info: info.map(Bytes::from),
            ..MemberInfo::default()
        };
        Ok((Arc::from(user), Arc::new(info)))
    }

    fn presence_namespace(&self, channel: &ChannelName) -> Namespace {
        presence_namespace(&self.app, channel, self.server.config.ping_interval)
    }

    /// Handles `pusher:unsubscribe`; an unknown channel is ignored, as
    /// Pusher does (no reply either way).
    pub(super) async fn unsubscribe(&mut self, data: UnsubscribeData) {
        let Ok(channel) = ChannelName::new(&data.channel) else {
            return;
        };
        if let Some(subscription) = self.subscriptions.remove(&channel) {
            let node = &self.server.node;
            node.unsubscribe(&self.app.app, self.client.id, &channel)
                .await;
            // After unsubscribing: the leaver hears nothing of its own leave.
            if subscription.member.is_some() {
                let namespace = self.presence_namespace(&channel);
                node.presence_leave(&self.app.app, self.client.id, &channel, &namespace)
                    .await;
            }
        }
    }

    /// Renews the connection's presence leases. Adding a lease that exists
    /// renews it; one that expired meanwhile comes back, and the user joins
    /// again.
    pub(super) async fn renew_presence(&mut self) {
        // A subscription the server ended (a ban) removed its presence
        // lease; renewing it would list the user again.
        let hub = &self.app.app.hub;
        let client = self.client.id;
        self.subscriptions
            .retain(|channel, _| hub.is_subscribed(client, channel));
        for (channel, subscription) in &self.subscriptions {
            if let Some((user, info)) = &subscription.member {
                let namespace = self.presence_namespace(channel);
                let joined = self
                    .server
                    .node
                    .presence_join_as(
                        &self.app.app,
                        self.client.id,
                        channel,
                        &namespace,
                        user.clone(),
                        info.clone(),
                    )
                    .await;
                if let Err(error) = joined {
                    tracing::warn!(%channel, %error, "presence renewal failed");
                }
                if !self.app.app.hub.is_subscribed(self.client.id, channel) {
                    // The subscription ended while the lease was renewed:
                    // its end removed the lease before the renewal added
                    // it again.
                    self.server
                        .node
                        .presence_leave(&self.app.app, self.client.id, channel, &namespace)
                        .await;
                }
            }
        }
    }

    /// Leaves every channel when the connection ends.
    pub(super) async fn unsubscribe_all(&self) {
        let node = &self.server.node;
        let app = &self.app.app;
        for (channel, subscription) in &self.subscriptions {
            node.unsubscribe(app, self.client.id, channel).await;
            if subscription.member.is_some() {
                let namespace = self.presence_namespace(channel);
                node.presence_leave(app, self.client.id, channel, &namespace)
                    .await;
            }
        }
    }
}

/// The options of a Pusher presence channel: the lease time of the app's
/// namespace, with joins and leaves pushed one by one (Pusher has no
/// batched presence event), and never shorter than two pings
/// (`ping_interval`), so a live connection's lease never lapses.
fn presence_namespace(
    app: &AppContext,
    channel: &ChannelName,
    ping_interval: Duration,
) -> Namespace {
    let ttl = app
        .app
        .namespace(channel)
        .map_or(Namespace::new(Namespace::DEFAULT).presence_ttl, |ns| {
            ns.presence_ttl
        });
    Namespace {
        presence: true,
        join_leave: true,
        presence_ttl: ttl.max(ping_interval * 2),
        presence_batch: Duration::ZERO,
        ..Namespace::new(Namespace::DEFAULT)
    }
}
