//! Pinned messages: `message_pin`, `message_unpin`, `pins`.
//!
//! Moderators pin: token roles `moderator` and `admin`, and a room's owner
//! and moderators; with `pins = "members"` in the namespace, everyone who
//! may send to the channel. A change is a `message_pinned` or
//! `message_unpinned` event in the channel's stream.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::ChannelName;
use parley_store::{Pin, PinAction, PinChange, Pinned, RoomRole};
use serde_json::{Value, json};

use super::{Actor, Chat, ChatError, chat_namespace, parse_id, rooms};
use crate::config::PinPermission;
use crate::json::{self as message_json, pages};
use crate::state::AppContext;

/// Pins or unpins a message of the channel.
pub async fn change(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    id: &str,
    action: PinAction,
) -> Result<Pinned, ChatError> {
    let (_, config) = chat_namespace(app, channel)?;
    let message = parse_id(id)?;
    if actor.limited {
        let role = rooms::check_member(chat, app, channel, &actor.user).await?;
        let allowed = actor.moderator
            || role.is_some_and(RoomRole::moderates)
            || config.pins == PinPermission::Members;
        if !allowed {
            return Err(ChatError::Domain(parley_core::Error::PermissionDenied(
                "only moderators pin messages here",
            )));
        }
    }
    Ok(chat
        .store()
        .pin(PinChange {
            app: app.app.id.clone(),
            channel: channel.clone(),
            message,
            by: actor.user.to_string(),
            action,
            encode: Arc::new(pin_data),
        })
        .await?)
}

fn pin_value(pin: &Pin) -> Value {
    json!({
        "message": serde_json::from_str::<Value>(&message_json::message_json(&pin.message))
            .unwrap_or(Value::Null),
        "pinned": pin.pinned,
        "by": pin.by,
        "at": pin.at.as_millis(),
    })
}

/// `{"message": {...}, "pinned", "by", "at"}`: the payload of
/// `message_pinned` and `message_unpinned`, and the reply.
pub fn pin_data(pin: &Pin) -> Bytes {
    Bytes::from(pin_value(pin).to_string())
}

/// `{"pins": [{"message", "pinned", "by", "at"}]}`, most recent first,
/// each message as `viewer` may see it (with its reactions); a pin of a
/// message the viewer may not see is left out.
pub async fn pins_json(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    viewer: &super::moderation::Viewer,
) -> Result<String, ChatError> {
    chat_namespace(app, channel)?;
    let pins = chat.store().pins(&app.app.id, channel).await?;
    let mut values = Vec::with_capacity(pins.len());
    for pin in pins
        .iter()
        .filter(|pin| super::moderation::sees_message(viewer, &pin.message))
    {
        let mut value = pin_value(pin);
        let message = super::visible(chat, vec![pin.message.clone()], viewer).await?;
        if let Some(message) = message.first() {
            value["message"] =
                serde_json::from_str(&pages::seen_message_json(message)).unwrap_or(Value::Null);
        }
        values.push(value);
    }
    Ok(json!({ "pins": values }).to_string())
}
