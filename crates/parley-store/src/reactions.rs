//! Reactions: one emoji from one user on a message or on a channel itself,
//! unique per (user, target, emoji), and their counts.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, EventKind, PublicationKind};
use sqlx::AnyConnection;

use crate::commands::{Command, Context};
use crate::event::{self, Event, Turn};
use crate::sql::{messages, reactions};
use crate::{MessageId, Store, StoreError, StoredPublication};

/// What a reaction is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactionTarget {
    /// A chat message.
    Message(MessageId),
    /// A channel itself: a page being read, a match being watched.
    Channel(ChannelName),
}

/// What a [`ReactionChange`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionAction {
    /// Adds the user's reaction.
    Add,
    /// Removes it.
    Remove,
}

/// Adding or removing one user's reaction.
#[derive(Debug, Clone)]
pub struct ReactionChange {
    /// The app.
    pub app: Arc<str>,
    /// The message or channel reacted to.
    pub target: ReactionTarget,
    /// The reacting user.
    pub user: String,
    /// The emoji, validated by the caller.
    pub emoji: String,
    /// Whether the reaction is added or removed.
    pub action: ReactionAction,
    /// The user is shadow-muted: the event is for the user's eyes only
    /// (the reaction still counts).
    pub shadow: bool,
}

/// A reaction event as it is stored in the channel's stream and delivered:
/// what changed and the emoji's count after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionEvent {
    /// The channel whose stream carries the event.
    pub channel: ChannelName,
    /// The message, for a reaction to a message.
    pub message_id: Option<MessageId>,
    /// The user who reacted or took the reaction back.
    pub user: String,
    /// The emoji.
    pub emoji: String,
    /// How many users react with this emoji to the target now.
    pub count: u64,
}

impl ReactionEvent {
    /// The kind of the event of a reaction added.
    pub const ADDED: EventKind = EventKind::new("reaction_added");
    /// The kind of the event of a reaction taken back.
    pub const REMOVED: EventKind = EventKind::new("reaction_removed");
}

/// A reaction event with its kind and who may see it, encoded by the
/// store's [`MessageEventEncoder`](crate::MessageEventEncoder).
struct Reaction<'a> {
    /// [`ReactionEvent::ADDED`] or [`ReactionEvent::REMOVED`].
    kind: EventKind,
    event: &'a ReactionEvent,
    audience: Option<Arc<str>>,
}

impl Event for Reaction<'_> {
    fn kind(&self) -> PublicationKind {
        self.kind.clone().into()
    }

    fn data(&self, context: &Context<'_>) -> Bytes {
        context.encoder.encode_reaction(self.kind(), self.event)
    }

    fn message_id(&self) -> Option<MessageId> {
        self.event.message_id
    }

    fn author(&self) -> Option<Arc<str>> {
        Some(Arc::from(self.event.user.as_str()))
    }

    fn audience(&self) -> Option<Arc<str>> {
        self.audience.clone()
    }
}

/// What a [`ReactionChange`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reacted {
    /// The event, with the emoji's count after the change.
    pub event: ReactionEvent,
    /// The `reaction_added` or `reaction_removed` publication, or `None`
    /// when nothing changed (adding a reaction the user already has, or
    /// removing one they do not have).
    pub publication: Option<StoredPublication>,
}

/// One emoji's count on a target, relative to a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many users react with it.
    pub count: u64,
    /// Whether the reader is one of them.
    pub me: bool,
}

impl Store {
    /// Adds or removes a user's reaction to a message (which must not be
    /// deleted) or to a channel, and appends `reaction_added` or
    /// `reaction_removed` to the channel's stream. Adding a reaction the
    /// user has, or removing one they have not, appends nothing and returns
    /// the current count.
    pub async fn react(&self, change: ReactionChange) -> Result<Reacted, StoreError> {
        let channel = match &change.target {
            ReactionTarget::Message(_) => None,
            ReactionTarget::Channel(channel) => Some(channel.clone()),
        };
        self.submit(|reply| Command::React {
            change,
            channel,
            reply,
        })
        .await
    }

    /// The reaction counts of messages of the app, relative to `reader`
    /// (`me` is false for every count without one). Messages without
    /// reactions are absent from the map.
    pub async fn message_reactions(
        &self,
        messages: &[MessageId],
        reader: Option<&str>,
    ) -> Result<HashMap<MessageId, Vec<ReactionCount>>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        reactions::message_counts(&mut connection, messages, reader).await
    }

    /// The counts of the reactions to a channel itself, relative to
    /// `reader`, in the order the emojis were first used.
    pub async fn channel_reactions(
        &self,
        app: &str,
        channel: &ChannelName,
        reader: Option<&str>,
    ) -> Result<Vec<ReactionCount>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        reactions::channel_counts(&mut connection, app, channel, reader).await
    }
}

/// Adds or removes a reaction. Only a change takes the channel's next
/// offset and appends `reaction_added` or `reaction_removed`; the count is
/// read after the stream is locked, so the counts of a channel's events
/// follow its offsets.
pub(crate) async fn react(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    change: &ReactionChange,
    channel: &ChannelName,
) -> Result<Reacted, StoreError> {
    // Who may see the event: the reactor alone when shadow-muted, the
    // message's author alone for a shadow message (no one else sees it).
    let mut audience = change.shadow.then(|| Arc::from(change.user.as_str()));
    let message_id = match &change.target {
        ReactionTarget::Message(id) => {
            // A hidden message takes no reactions (nor loses any): its
            // reactions would tell everyone about a message they cannot see.
            let message = messages::find(connection, &change.app, *id)
                .await?
                .filter(|message| !message.is_deleted() && !message.hidden)
                .ok_or(StoreError::NotFound("message"))?;
            if message.shadow {
                audience = Some(Arc::from(message.author.as_str()));
            }
            Some(*id)
        }
        ReactionTarget::Channel(_) => None,
    };
    let (app, target) = (&*change.app, &change.target);
    let changed = if change.action == ReactionAction::Add {
        reactions::add(
            connection,
            app,
            target,
            &change.user,
            &change.emoji,
            context.now,
        )
        .await?
    } else {
        reactions::remove(connection, app, target, &change.user, &change.emoji).await?
    };
    let turn = match changed {
        true => Some(Turn::take(connection, context, app, channel).await?),
        false => None,
    };
    let counted = ReactionEvent {
        channel: channel.clone(),
        message_id,
        user: change.user.clone(),
        emoji: change.emoji.clone(),
        count: reactions::count(connection, app, target, &change.emoji).await?,
    };
    let publication = match turn {
        Some(turn) => {
            let reaction = Reaction {
                kind: match change.action {
                    ReactionAction::Add => ReactionEvent::ADDED,
                    ReactionAction::Remove => ReactionEvent::REMOVED,
                },
                event: &counted,
                audience,
            };
            Some(event::append(connection, context, turn, &reaction).await?)
        }
        None => None,
    };
    Ok(Reacted {
        event: counted,
        publication,
    })
}
