//! Client events (`client-*`): relayed between subscribers of private and
//! presence channels, never back to the sender.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, ClientInfo, Disconnect};
use serde::Serialize;
use serde_json::value::RawValue;

use super::cache::{CachedEvent, is_cache_channel};
use super::codes;
use super::session::PusherSession;
use crate::webhooks::WebhookEvent;

#[derive(Serialize)]
struct ClientEventData<'a> {
    event: &'a str,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

impl PusherSession {
    /// Relays a client event, or refuses it with 4301 (closing the
    /// connection past the rate limit).
    pub(super) async fn client_event(
        &mut self,
        event: &str,
        name: &str,
        data: &RawValue,
    ) -> Option<Disconnect> {
        let options = &self.app.config.pusher;
        if !options.enable_client_messages {
            self.error(
                Some(codes::CLIENT_EVENT_REJECTED),
                "client events are not enabled for this app",
            );
            return None;
        }
        if !(name.starts_with("private-") || name.starts_with("presence-")) {
            self.error(
                Some(codes::CLIENT_EVENT_REJECTED),
                "client events need a private or presence channel",
            );
            return None;
        }
        if name.starts_with("private-encrypted-") {
            // Their payloads are end-to-end encrypted by the server SDKs;
            // Pusher refuses client events on them too.
            self.error(
                Some(codes::CLIENT_EVENT_REJECTED),
                "client events are not allowed on encrypted channels",
            );
            return None;
        }
        let subscription = ChannelName::new(name)
            .ok()
            .and_then(|channel| self.subscriptions.get_key_value(&channel));
        let Some((channel, subscription)) = subscription else {
            self.error(
                Some(codes::CLIENT_EVENT_REJECTED),
                "subscribe before sending client events",
            );
            return None;
        };
        if data.get().len() > options.max_message_bytes {
            self.error(
                Some(codes::CLIENT_EVENT_REJECTED),
                "client event data too large",
            );
            return None;
        }
        if self.client_events.check().is_err() {
            self.close_code = Some(codes::CLIENT_EVENT_REJECTED);
            return Some(Disconnect::ProtocolViolation);
        }
        let user = subscription.member.as_ref().map(|(user, _)| user.clone());
        let payload = serde_json::to_string(&ClientEventData {
            event,
            data,
            user_id: user.as_deref(),
        })
        .expect("client events serialize to JSON");
        let info = ClientInfo {
            client: self.client.id,
            user: user.unwrap_or_else(|| Arc::from("")),
            info: None,
        };
        let channel = channel.clone();
        let app_id = &self.app.app.id;
        if is_cache_channel(name) {
            self.server
                .pusher
                .cache
                .keep(
                    app_id,
                    name,
                    CachedEvent {
                        event: event.to_owned(),
                        data: data.get().to_owned(),
                    },
                    options.cache_ttl,
                )
                .await;
        }
        if self.server.webhooks.wants(app_id, "client_event") {
            // Pusher's webhook carries the data as the client sent it: a
            // string stays a string, anything else is its JSON text.
            let text = serde_json::from_str::<String>(data.get())
                .unwrap_or_else(|_| data.get().to_owned());
            self.server.webhooks.emit(
                app_id,
                WebhookEvent::ClientEvent {
                    channel: name.to_owned(),
                    event: event.to_owned(),
                    data: text,
                    socket_id: self.socket_id.clone(),
                    user_id: (!info.user.is_empty()).then(|| info.user.to_string()),
                },
            );
        }
        // The channel's own path: through the store in a persisted
        // namespace, so the event is stored and recovered like any other
        // publication there.
        let published = self
            .server
            .node
            .publish(&self.app.app, &channel, Bytes::from(payload), Some(info))
            .await;
        if let Err(error) = published {
            tracing::warn!(%channel, ?error, "client event publish failed");
            self.error(None, "client event failed");
        }
        None
    }
}
