//! The write operations: what each one does inside the writer's
//! transaction, and the reply it owes its caller.
//!
//! Every channel write starts by taking the stream's next offset
//! ([`streams::advance`]), which locks the stream row, and only then reads
//! the state it checks. On PostgreSQL shared by several nodes this makes each
//! check see what the previous writer of the channel committed. An operation
//! that fails is rolled back by the writer (see `writer.rs`), which undoes
//! the offset too.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, ClientInfo, PublicationKind, StreamPosition};
use sqlx::AnyConnection;
use tokio::sync::oneshot;

use crate::room_commands::{self, RoomCommand};
use crate::sql::{messages, reactions, streams, uploads};
use crate::{
    Changed, DeleteMode, Message, MessageDelete, MessageEdit, MessageEventEncoder, MessageHide,
    NewMessage, NewUpload, Reacted, ReactionChange, ReactionTarget, Retention, Sent, StoreError,
    StoredPublication, Timestamp, TrimScope, Upload,
};

/// What the operations of one transaction share.
pub(crate) struct Context<'a> {
    /// Encodes message events once ids and offsets are known.
    pub(crate) encoder: &'a dyn MessageEventEncoder,
    /// The transaction's time: every row it writes carries it.
    pub(crate) now: Timestamp,
}

/// A caller's write, queued for the writer.
pub(crate) enum Command {
    /// Append opaque data to a channel.
    Publish {
        app: Arc<str>,
        channel: ChannelName,
        data: Bytes,
        /// The publishing client, passed to live delivery and not stored.
        info: Option<ClientInfo>,
        reply: Reply<StoredPublication>,
    },
    /// Send a chat message.
    Send { new: NewMessage, reply: Reply<Sent> },
    /// Edit a chat message. `channel` is filled in by [`Command::resolve`].
    Edit {
        edit: MessageEdit,
        channel: Option<ChannelName>,
        reply: Reply<Changed>,
    },
    /// Delete a chat message. `channel` is filled in by [`Command::resolve`].
    Delete {
        delete: MessageDelete,
        channel: Option<ChannelName>,
        reply: Reply<Changed>,
    },
    /// Create a stream that has no event yet, so that readers get the epoch
    /// its first event will carry.
    CreateStream {
        app: Arc<str>,
        channel: ChannelName,
        reply: Reply<StreamPosition>,
    },
    /// A write about rooms, read markers or pins (`room_commands.rs`).
    Room(RoomCommand),
    /// Hide or show a chat message. `channel` is filled in by
    /// [`Command::resolve`].
    Hide {
        hide: MessageHide,
        channel: Option<ChannelName>,
        reply: Reply<Changed>,
    },
    /// Remove old publications.
    Trim {
        app: Arc<str>,
        scope: TrimScope,
        retention: Retention,
        reply: Reply<u64>,
    },
    /// Keep an upload's metadata.
    CreateUpload {
        upload: NewUpload,
        reply: Reply<Upload>,
    },
    /// Add or remove a reaction. `channel` is the channel reacted to, or
    /// for a message, filled in by [`Command::resolve`].
    React {
        change: ReactionChange,
        channel: Option<ChannelName>,
        reply: Reply<Reacted>,
    },
}

impl Command {
    /// Finds the channel of an edit, a delete or a reaction to a message,
    /// which name only a message.
    /// A message never changes channel, so this reads without a lock, before
    /// the transaction; a message that does not exist settles the command
    /// with `NotFound`.
    pub(crate) async fn resolve(&mut self, connection: &mut AnyConnection) {
        match self {
            Self::Edit {
                edit,
                channel,
                reply,
            } => resolve_channel(connection, &edit.app, edit.id, channel, reply).await,
            Self::Delete {
                delete,
                channel,
                reply,
            } => resolve_channel(connection, &delete.app, delete.id, channel, reply).await,
            Self::Hide {
                hide,
                channel,
                reply,
            } => resolve_channel(connection, &hide.app, hide.id, channel, reply).await,
            Self::React {
                change:
                    ReactionChange {
                        app,
                        target: ReactionTarget::Message(id),
                        ..
                    },
                channel,
                reply,
            } => resolve_channel(connection, app, *id, channel, reply).await,
            _ => {}
        }
    }

    /// Whether resolving already answered the command, so there is nothing
    /// to run.
    pub(crate) fn is_settled(&self) -> bool {
        match self {
            Self::Edit { channel, reply, .. } => channel.is_none() && reply.outcome.is_some(),
            Self::Delete { channel, reply, .. } => channel.is_none() && reply.outcome.is_some(),
            Self::Hide { channel, reply, .. } => channel.is_none() && reply.outcome.is_some(),
            Self::React { channel, reply, .. } => channel.is_none() && reply.outcome.is_some(),
            _ => false,
        }
    }

    /// The order in which a batch takes its locks: channel writes by app and
    /// channel, trims last. With every writer taking stream locks in the
    /// same order, two batches on two PostgreSQL nodes do not deadlock over
    /// streams; the rare deadlock left (a trim against a redaction) is
    /// detected by PostgreSQL and the writer retries the batch.
    pub(crate) fn lock_order(&self) -> (bool, &str, &str) {
        fn channel(channel: &Option<ChannelName>) -> &str {
            channel.as_ref().map_or("", ChannelName::as_str)
        }
        match self {
            Self::Publish { app, channel, .. } | Self::CreateStream { app, channel, .. } => {
                (false, app, channel.as_str())
            }
            Self::Send { new, .. } => (false, &new.app, new.channel.as_str()),
            Self::Edit {
                edit, channel: c, ..
            } => (false, &edit.app, channel(c)),
            Self::Delete {
                delete, channel: c, ..
            } => (false, &delete.app, channel(c)),
            Self::Room(command) => {
                let (app, channel) = command.lock_order();
                (false, app, channel)
            }
            Self::Hide {
                hide, channel: c, ..
            } => (false, &hide.app, channel(c)),
            Self::React {
                change, channel: c, ..
            } => (false, &change.app, channel(c)),
            // An upload locks no stream.
            Self::CreateUpload { upload, .. } => (false, &upload.app, ""),
            Self::Trim { app, .. } => (true, app, ""),
        }
    }

    /// Runs the command and keeps its outcome for the reply. Returns the
    /// error too, so the writer can roll the command back.
    pub(crate) async fn execute(
        &mut self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Publish {
                app,
                channel,
                data,
                info,
                reply,
            } => reply.keep(publish(connection, context, app, channel, data, info.as_ref()).await),
            Self::Send { new, reply } => reply.keep(send(connection, context, new).await),
            Self::Edit {
                edit,
                channel: Some(channel),
                reply,
            } => reply.keep(edit_message(connection, context, edit, channel).await),
            Self::Delete {
                delete,
                channel: Some(channel),
                reply,
            } => reply.keep(delete_message(connection, context, delete, channel).await),
            Self::Hide {
                hide,
                channel: Some(channel),
                reply,
            } => reply
                .keep(crate::moderation::hide_message(connection, context, hide, channel).await),
            // Resolving settled these: the message does not exist.
            Self::Edit { channel: None, .. }
            | Self::Delete { channel: None, .. }
            | Self::Hide { channel: None, .. } => Ok(()),
            Self::CreateStream {
                app,
                channel,
                reply,
            } => reply.keep(streams::create(connection, app, channel, context.now).await),
            Self::Trim {
                app,
                scope,
                retention,
                reply,
            } => reply.keep(streams::trim(connection, app, scope, *retention).await),
            Self::Room(command) => command.execute(connection, context).await,
            Self::CreateUpload { upload, reply } => {
                reply.keep(uploads::insert(connection, upload, context.now).await)
            }
            Self::React {
                change,
                channel: Some(channel),
                reply,
            } => reply.keep(crate::reactions::react(connection, context, change, channel).await),
            // Resolving settled it: the message does not exist.
            Self::React { channel: None, .. } => Ok(()),
        }
    }

    /// The app and the publications a committed command appended, in the
    /// order it appended them, with the publishing client of a live
    /// publication, for delivery.
    pub(crate) fn appended(&self) -> Vec<(&str, &StoredPublication, Option<&ClientInfo>)> {
        match self {
            Self::Publish {
                app, info, reply, ..
            } => match &reply.outcome {
                Some(Ok(publication)) => vec![(&**app, publication, info.as_ref())],
                _ => Vec::new(),
            },
            Self::Send { new, reply } => match &reply.outcome {
                Some(Ok(Sent {
                    publication: Some(publication),
                    parent,
                    ..
                })) => {
                    let mut appended = vec![(&*new.app, publication, None)];
                    if let Some(parent) = parent {
                        appended.push((&*new.app, &parent.publication, None));
                    }
                    appended
                }
                _ => Vec::new(),
            },
            Self::Edit { edit, reply, .. } => match &reply.outcome {
                Some(Ok(changed)) => vec![(&*edit.app, &changed.publication, None)],
                _ => Vec::new(),
            },
            Self::Delete { delete, reply, .. } => match &reply.outcome {
                Some(Ok(changed)) => vec![(&*delete.app, &changed.publication, None)],
                _ => Vec::new(),
            },
            Self::Room(command) => command
                .appended()
                .map(|(app, publication)| vec![(app, publication, None)])
                .unwrap_or_default(),
            Self::Hide { hide, reply, .. } => match &reply.outcome {
                Some(Ok(changed)) => vec![(&*hide.app, &changed.publication, None)],
                _ => Vec::new(),
            },
            Self::React { change, reply, .. } => match &reply.outcome {
                Some(Ok(Reacted {
                    publication: Some(publication),
                    ..
                })) => vec![(&*change.app, publication, None)],
                _ => Vec::new(),
            },
            Self::CreateStream { .. } | Self::Trim { .. } | Self::CreateUpload { .. } => Vec::new(),
        }
    }

    /// Answers the caller: with the kept outcome once the transaction
    /// committed, with `failure` when it did not.
    pub(crate) fn answer(self, failure: Option<&StoreError>) {
        match self {
            Self::Publish { reply, .. } => reply.answer(failure),
            Self::Send { reply, .. } => reply.answer(failure),
            Self::Edit { reply, .. } => reply.answer(failure),
            Self::Delete { reply, .. } => reply.answer(failure),
            Self::Hide { reply, .. } => reply.answer(failure),
            Self::CreateStream { reply, .. } => reply.answer(failure),
            Self::Trim { reply, .. } => reply.answer(failure),
            Self::Room(command) => command.answer(failure),
            Self::CreateUpload { reply, .. } => reply.answer(failure),
            Self::React { reply, .. } => reply.answer(failure),
        }
    }
}

/// Finds the channel of the message a command names, or settles the
/// command with `NotFound` (or the error reading it).
async fn resolve_channel<T>(
    connection: &mut AnyConnection,
    app: &str,
    id: crate::MessageId,
    channel: &mut Option<ChannelName>,
    reply: &mut Reply<T>,
) {
    if channel.is_some() || reply.outcome.is_some() {
        return;
    }
    match messages::channel_of(connection, app, id).await {
        Ok(Some(found)) => *channel = Some(found),
        Ok(None) => reply.outcome = Some(Err(StoreError::NotFound("message"))),
        Err(error) => reply.outcome = Some(Err(error)),
    }
}

/// The caller's end of a command: where its answer goes, and the outcome
/// kept until the transaction's fate is known.
pub(crate) struct Reply<T> {
    sender: oneshot::Sender<Result<T, StoreError>>,
    outcome: Option<Result<T, StoreError>>,
}

impl<T> Reply<T> {
    /// A reply that answers through `sender`.
    pub(crate) fn new(sender: oneshot::Sender<Result<T, StoreError>>) -> Self {
        Self {
            sender,
            outcome: None,
        }
    }

    /// Keeps the outcome of one run; a retried transaction overwrites it.
    pub(crate) fn keep(&mut self, outcome: Result<T, StoreError>) -> Result<(), StoreError> {
        let status = match &outcome {
            Ok(_) => Ok(()),
            Err(error) => Err(error.clone()),
        };
        self.outcome = Some(outcome);
        status
    }

    /// The successful outcome kept so far.
    pub(crate) fn kept(&self) -> Option<&T> {
        self.outcome.as_ref()?.as_ref().ok()
    }

    /// Sends the answer: `failure` when the transaction failed, the kept
    /// outcome when it committed.
    pub(crate) fn answer(self, failure: Option<&StoreError>) {
        let answer = match (failure, self.outcome) {
            (Some(error), _) => Err(error.clone()),
            (None, Some(outcome)) => outcome,
            (None, None) => Err(StoreError::Closed),
        };
        // A caller that stopped waiting (its future was dropped) no longer
        // needs the answer; its write is committed all the same.
        let _ = self.sender.send(answer);
    }
}

/// The stored event for a message change at `position`: for everyone who
/// reads the channel, or only for the author of a shadow-muted message.
pub(crate) fn message_event(
    context: &Context<'_>,
    kind: PublicationKind,
    message: &Message,
    position: StreamPosition,
) -> StoredPublication {
    StoredPublication {
        channel: message.channel.clone(),
        position,
        kind,
        data: context.encoder.encode(kind, message),
        message_id: Some(message.id),
        created_at: context.now,
        author: Some(Arc::from(message.author.as_str())),
        audience: message.shadow.then(|| Arc::from(message.author.as_str())),
    }
}

async fn publish(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    channel: &ChannelName,
    data: &Bytes,
    info: Option<&ClientInfo>,
) -> Result<StoredPublication, StoreError> {
    let position = streams::advance(connection, app, channel, context.now).await?;
    let publication = StoredPublication {
        channel: channel.clone(),
        position,
        kind: PublicationKind::Publication,
        data: data.clone(),
        message_id: None,
        created_at: context.now,
        author: info
            .filter(|info| !info.user.is_empty())
            .map(|info| info.user.clone()),
        audience: None,
    };
    streams::append(connection, app, &publication).await?;
    Ok(publication)
}

/// Sends a message, or returns the earlier one with the same idempotency
/// key. The key is looked up before the stream lock, so a duplicate costs no
/// lock; two nodes inserting the same key at once are caught by the unique
/// index, and the writer runs the loser again, which then finds the winner.
async fn send(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    new: &NewMessage,
) -> Result<Sent, StoreError> {
    if let Some(key) = &new.client_msg_id
        && let Some(mut message) =
            messages::find_sent(connection, &new.app, &new.channel, &new.author, key).await?
    {
        uploads::fill(connection, std::slice::from_mut(&mut message)).await?;
        return Ok(Sent {
            message,
            publication: None,
            parent: None,
        });
    }
    if let Some(reply_to) = new.reply_to {
        let channel = messages::channel_of(connection, &new.app, reply_to).await?;
        if channel.as_ref() != Some(&new.channel) {
            return Err(StoreError::InvalidInput(format!(
                "reply_to {reply_to} is not a message of this channel"
            )));
        }
    }
    // A shadow message is for its author's eyes only: it takes no place in
    // the channel's message count (so no one else's unread count grows),
    // mentions no one and adds nothing to its parent's thread. It takes the
    // current count as its seq, and the author's read marker covers it.
    let (position, seq) =
        streams::advance_counting(connection, &new.app, &new.channel, context.now, !new.shadow)
            .await?;
    room_commands::mark_sent(connection, context, new, seq, position.offset).await?;
    let mut message = messages::insert(connection, new, position.offset, seq, context.now).await?;
    if !new.shadow {
        room_commands::record_mentions(connection, &message, &new.app, seq).await?;
    }
    message.attachments = uploads::link(
        connection,
        &new.app,
        &new.author,
        message.id,
        &new.attachments,
    )
    .await?;
    let publication = message_event(context, PublicationKind::MessageCreated, &message, position);
    streams::append(connection, &new.app, &publication).await?;
    let parent = match new.shadow {
        true => None,
        false => room_commands::update_thread(connection, context, &new.app, &message).await?,
    };
    Ok(Sent {
        message,
        publication: Some(publication),
        parent,
    })
}

async fn edit_message(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    edit: &MessageEdit,
    channel: &ChannelName,
) -> Result<Changed, StoreError> {
    let position = streams::advance(connection, &edit.app, channel, context.now).await?;
    let mut message = messages::find(connection, &edit.app, edit.id)
        .await?
        .filter(|message| !message.is_deleted())
        .ok_or(StoreError::NotFound("message"))?;
    if message.author != edit.editor {
        return Err(StoreError::Forbidden("only its author may edit a message"));
    }
    uploads::fill(connection, std::slice::from_mut(&mut message)).await?;
    messages::add_revision(connection, message.id, &message.text, context.now).await?;
    messages::set_text(connection, message.id, &edit.text, context.now).await?;
    message.text.clone_from(&edit.text);
    message.edited_at = Some(context.now);
    let publication = message_event(context, PublicationKind::MessageUpdated, &message, position);
    streams::append(connection, &edit.app, &publication).await?;
    Ok(Changed {
        message,
        publication,
    })
}

/// Deletes a message and redacts its earlier events: their data is encoded
/// again from the tombstone, so the deleted text leaves history and
/// recovery too, while every offset stays in place.
async fn delete_message(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    delete: &MessageDelete,
    channel: &ChannelName,
) -> Result<Changed, StoreError> {
    let position = streams::advance(connection, &delete.app, channel, context.now).await?;
    let mut message = messages::find(connection, &delete.app, delete.id)
        .await?
        .ok_or(StoreError::NotFound("message"))?;
    if !delete.actor_is_moderator && message.author != delete.actor {
        return Err(StoreError::Forbidden(
            "only its author or a moderator may delete a message",
        ));
    }
    match delete.mode {
        DeleteMode::Hard if !delete.actor_is_moderator => {
            return Err(StoreError::Forbidden(
                "only a moderator may hard-delete a message",
            ));
        }
        // A tombstone is already soft-deleted; deleting it again is a
        // message that is not there.
        DeleteMode::Soft if message.is_deleted() => return Err(StoreError::NotFound("message")),
        _ => {}
    }
    message.text.clear();
    message.meta = None;
    message.attachments.clear();
    uploads::detach(connection, message.id).await?;
    reactions::clear(connection, message.id).await?;
    let deleted_at = *message.deleted_at.get_or_insert(context.now);
    match delete.mode {
        DeleteMode::Soft => messages::bury(connection, message.id, deleted_at).await?,
        DeleteMode::Hard => messages::remove(connection, message.id).await?,
    }
    for kind in [
        PublicationKind::MessageCreated,
        PublicationKind::MessageUpdated,
    ] {
        let data = context.encoder.encode(kind, &message);
        streams::redact(connection, &delete.app, channel, message.id, kind, &data).await?;
    }
    let publication = message_event(context, PublicationKind::MessageDeleted, &message, position);
    streams::append(connection, &delete.app, &publication).await?;
    Ok(Changed {
        message,
        publication,
    })
}
