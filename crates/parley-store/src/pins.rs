//! Pinned messages, the worked example of a durable feature: the event
//! (`message_pinned`, `message_unpinned`), its projection (the `pins`
//! table, `sql/pins.rs`), the write that appends one in the same
//! transaction as the other, and the store's API for them.

use std::sync::Arc;

use parley_core::{ChannelName, EventKind};
use sqlx::AnyConnection;

use crate::commands::{Change, Context};
use crate::event::{self, Encoded, EventEncoder};
use crate::sql::{messages, pins, uploads};
use crate::{Message, MessageId, Store, StoreError, StoredPublication, Timestamp};

/// The most pins [`Store::pins`] lists.
pub const MAX_PINS: usize = 100;

/// A pin or an unpin.
#[derive(Clone)]
pub struct PinChange {
    /// The app.
    pub app: Arc<str>,
    /// The channel the message must be in.
    pub channel: ChannelName,
    /// The message.
    pub message: MessageId,
    /// The user who acts (permission is the caller's to check).
    pub by: String,
    /// Pin or unpin.
    pub action: PinAction,
    /// The payload of the `message_pinned` or `message_unpinned` event.
    pub encode: EventEncoder<Pin>,
}

/// What a [`PinChange`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinAction {
    /// Pins the message.
    Pin,
    /// Unpins it.
    Unpin,
}

/// A pinned message, or one just unpinned: the data of a pin event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The message as it is now.
    pub message: Message,
    /// Who pinned it, or unpinned it.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Whether it is pinned now.
    pub pinned: bool,
}

impl Pin {
    /// The kind of the event of a message pinned; its data is the pin.
    pub const PINNED: EventKind = EventKind::new("message_pinned");
    /// The kind of the event of a message unpinned; its data is the former
    /// pin.
    pub const UNPINNED: EventKind = EventKind::new("message_unpinned");
}

/// What a pin or unpin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The pin after the change.
    pub pin: Pin,
    /// The event; `None` when nothing changed (pinned twice, or unpinning a
    /// message that was not pinned).
    pub publication: Option<StoredPublication>,
}

impl Store {
    /// Pins or unpins a message of the channel (not a deleted one) and
    /// appends `message_pinned` or `message_unpinned` when that changed
    /// anything.
    pub async fn pin(&self, change: PinChange) -> Result<Pinned, StoreError> {
        self.change(change).await
    }

    /// The channel's pinned messages, most recently pinned first (at most
    /// [`MAX_PINS`]; deleted messages are left out).
    pub async fn pins(&self, app: &str, channel: &ChannelName) -> Result<Vec<Pin>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        let mut pins = pins::pins(&mut connection, app, channel, MAX_PINS).await?;
        let mut messages = pins
            .iter()
            .map(|pin| pin.message.clone())
            .collect::<Vec<_>>();
        uploads::fill(&mut connection, &mut messages).await?;
        for (pin, message) in pins.iter_mut().zip(messages) {
            pin.message = message;
        }
        Ok(pins)
    }
}

impl Change for PinChange {
    type Outcome = Pinned;

    fn scope(&self) -> (&str, &ChannelName) {
        (&self.app, &self.channel)
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<Pinned, StoreError> {
        let app = &*self.app;
        let channel = &self.channel;
        let message = messages::find(connection, app, self.message)
            .await?
            // A hidden or shadow message is not everyone's to see, and a pin
            // event carries the message to everyone: it is neither pinned nor
            // unpinned (the pins list shows each reader what they may see).
            .filter(|message| {
                message.channel == *channel
                    && !message.is_deleted()
                    && !message.hidden
                    && !message.shadow
            })
            .ok_or(StoreError::NotFound("message"))?;
        let pin = Pin {
            message,
            by: self.by.clone(),
            at: context.now,
            pinned: self.action == PinAction::Pin,
        };
        let publication = match project(connection, app, channel, &pin).await? {
            true => {
                let event = Encoded {
                    kind: match pin.pinned {
                        true => Pin::PINNED,
                        false => Pin::UNPINNED,
                    },
                    value: &pin,
                    encode: &self.encode,
                };
                Some(event::record(connection, context, app, channel, &event).await?)
            }
            false => None,
        };
        Ok(Pinned { pin, publication })
    }

    fn appended(outcome: &Pinned) -> Option<&StoredPublication> {
        outcome.publication.as_ref()
    }
}

/// The projection: adds or removes the pin's row. Returns whether that
/// changed anything (a pin of a pinned message, or an unpin of one that is
/// not pinned, does not).
async fn project(
    connection: &mut AnyConnection,
    app: &str,
    channel: &ChannelName,
    pin: &Pin,
) -> Result<bool, StoreError> {
    match pin.pinned {
        true => pins::pin(connection, app, channel, pin.message.id, &pin.by, pin.at).await,
        false => pins::unpin(connection, app, channel, pin.message.id).await,
    }
}
