//! The writer's commands: what a caller queues, the order a batch locks
//! in, and the reply each owes its caller.
//!
//! The writes of messages, reactions and moderation are variants of
//! [`Command`]; a durable feature's write (rooms, read markers, pins, room
//! notices) is a [`Change`], queued as [`Command::Change`], so a new feature
//! adds no variant here. Every channel write starts by taking its turn at
//! the stream (`event.rs`), which locks the stream row, and only then reads
//! the state it checks. On PostgreSQL shared by several nodes this makes each
//! check see what the previous writer of the channel committed. An operation
//! that fails is rolled back by the writer (see `writer.rs`), which undoes
//! the offset too.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{BoxFuture, ChannelName, ClientInfo, StreamPosition};
use sqlx::AnyConnection;
use tokio::sync::oneshot;

use crate::event::{self, Published, Turn};
use crate::sql::streams::{self, Advance};
use crate::sql::uploads;
use crate::{
    Changed, MessageDelete, MessageEdit, MessageEventEncoder, MessageHide, NewMessage, NewUpload,
    Reacted, ReactionChange, ReactionTarget, Retention, Sent, StoreError, StoredPublication,
    Timestamp, TrimScope, UploadCreation, UploadId, UploadRemoval, messages,
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
    /// A write of one durable feature (rooms, read markers, pins, …):
    /// see [`Change`].
    Change(Box<dyn Queued>),
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
    /// Keep an upload's metadata, within its owner's quota.
    CreateUpload {
        upload: NewUpload,
        reply: Reply<UploadCreation>,
    },
    /// Remove an upload's metadata, unless a message carries it.
    RemoveUpload {
        app: Arc<str>,
        owner: String,
        id: UploadId,
        reply: Reply<UploadRemoval>,
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
            Self::Change(change) => {
                let (app, channel) = change.lock_order();
                (false, app, channel.as_str())
            }
            Self::Hide {
                hide, channel: c, ..
            } => (false, &hide.app, channel(c)),
            Self::React {
                change, channel: c, ..
            } => (false, &change.app, channel(c)),
            // An upload locks no stream.
            Self::CreateUpload { upload, .. } => (false, &upload.app, ""),
            Self::RemoveUpload { app, .. } => (false, app, ""),
            Self::Trim { app, .. } => (true, app, ""),
        }
    }

    /// Whether the writer runs the command in bulk with its neighbours of
    /// the same kind (see [`execute_bulk`]), and which kind it is.
    pub(crate) fn bulk(&self) -> Option<Bulk> {
        match self {
            Self::Send { new, .. } if new.is_plain() => Some(Bulk::Sends),
            Self::Publish { .. } => Some(Bulk::Publications),
            _ => None,
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
            Self::Send { new, reply } => reply.keep(messages::send(connection, context, new).await),
            Self::Edit {
                edit,
                channel: Some(channel),
                reply,
            } => reply.keep(messages::edit(connection, context, edit, channel).await),
            Self::Delete {
                delete,
                channel: Some(channel),
                reply,
            } => reply.keep(messages::delete(connection, context, delete, channel).await),
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
            Self::Change(change) => change.execute(connection, context).await,
            Self::CreateUpload { upload, reply } => {
                reply.keep(uploads::insert_within_quota(connection, upload, context.now).await)
            }
            Self::RemoveUpload {
                app,
                owner,
                id,
                reply,
            } => reply.keep(uploads::remove(connection, app, owner, id).await),
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
            Self::Change(change) => change
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
            Self::CreateStream { .. }
            | Self::Trim { .. }
            | Self::CreateUpload { .. }
            | Self::RemoveUpload { .. } => Vec::new(),
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
            Self::Change(change) => change.answer(failure),
            Self::CreateUpload { reply, .. } => reply.answer(failure),
            Self::RemoveUpload { reply, .. } => reply.answer(failure),
            Self::React { reply, .. } => reply.answer(failure),
        }
    }
}

/// The kinds of commands the writer runs in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bulk {
    /// Plain message sends: `messages::send_many`.
    Sends,
    /// Publications of opaque data: one statement takes every channel's
    /// offsets, one appends every publication.
    Publications,
}

/// Runs commands of one [`Bulk`] kind together, in a handful of statements
/// whatever their number, and keeps each one's outcome. A failure is kept
/// by every one of them and returned: the writer rolls the batch back and,
/// when it held more than these, runs it again one command at a time, where
/// the failing one is found and refused alone.
pub(crate) async fn execute_bulk(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    kind: Bulk,
    commands: &mut [&mut Command],
) -> Result<(), StoreError> {
    let outcome = match kind {
        Bulk::Sends => send_all(connection, context, commands).await,
        Bulk::Publications => publish_all(connection, context, commands).await,
    };
    if let Err(error) = &outcome {
        for command in commands.iter_mut() {
            match &mut **command {
                Command::Send { reply, .. } => reply.outcome = Some(Err(error.clone())),
                Command::Publish { reply, .. } => reply.outcome = Some(Err(error.clone())),
                _ => {}
            }
        }
    }
    outcome
}

/// [`execute_bulk`] for [`Bulk::Sends`].
async fn send_all(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    sends: &mut [&mut Command],
) -> Result<(), StoreError> {
    let news: Vec<&NewMessage> = sends
        .iter()
        .filter_map(|command| match &**command {
            Command::Send { new, .. } => Some(new),
            _ => None,
        })
        .collect();
    if news.len() != sends.len() {
        return Err(StoreError::corrupt("a bulk send held another command"));
    }
    let sent = messages::send_many(connection, context, &news).await?;
    drop(news);
    for (command, sent) in sends.iter_mut().zip(sent) {
        if let Command::Send { reply, .. } = &mut **command {
            reply.outcome = Some(Ok(sent));
        }
    }
    Ok(())
}

/// [`execute_bulk`] for [`Bulk::Publications`]: the turns of every channel
/// in one statement, the publications in one more (per chunk of rows).
async fn publish_all(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    publishes: &mut [&mut Command],
) -> Result<(), StoreError> {
    let mut advances: Vec<Advance<'_>> = Vec::new();
    let mut events = Vec::with_capacity(publishes.len());
    let mut stream_of = Vec::with_capacity(publishes.len());
    for command in publishes.iter() {
        let Command::Publish {
            app,
            channel,
            data,
            info,
            ..
        } = &**command
        else {
            return Err(StoreError::corrupt(
                "a bulk publication held another command",
            ));
        };
        let index = match advances
            .iter()
            .rposition(|advance| advance.app == &**app && advance.channel == channel)
        {
            Some(index) => index,
            None => {
                advances.push(Advance {
                    app,
                    channel,
                    events: 0,
                    counted: 0,
                });
                advances.len() - 1
            }
        };
        advances[index].events += 1;
        stream_of.push(index);
        events.push(published(data, info.as_ref()));
    }
    let taken = Turn::take_many(connection, context, &advances).await?;
    let mut turns: Vec<_> = taken
        .into_iter()
        .map(|taken| taken.turns.into_iter())
        .collect();
    let mut appends = Vec::with_capacity(events.len());
    for (event, stream) in events.into_iter().zip(stream_of) {
        let turn = turns[stream]
            .next()
            .ok_or_else(|| StoreError::corrupt("a stream gave fewer turns than asked"))?;
        appends.push((turn, event));
    }
    let publications = event::append_many(connection, context, appends).await?;
    for (command, publication) in publishes.iter_mut().zip(publications) {
        if let Command::Publish { reply, .. } = &mut **command {
            reply.outcome = Some(Ok(publication));
        }
    }
    Ok(())
}

/// A write of one durable feature: what it locks, what it does inside the
/// writer's transaction, and the event it appended. A feature's write
/// implements this next to its event type and its projection, and reaches
/// the writer through [`Store::change`](crate::Store::change) without a
/// variant of its own in [`Command`].
pub(crate) trait Change: Send + Sync + 'static {
    /// What the caller is answered with once the transaction committed.
    type Outcome: Send + 'static;

    /// The app and the channel whose stream the write locks.
    fn scope(&self) -> (&str, &ChannelName);

    /// Runs the write: takes its turn at the stream, updates its projection
    /// rows and appends its event (see `event.rs`). An error rolls the
    /// write back alone.
    fn apply(
        &self,
        connection: &mut AnyConnection,
        context: &Context<'_>,
    ) -> impl Future<Output = Result<Self::Outcome, StoreError>> + Send;

    /// The event a committed write appended, for live delivery.
    fn appended(outcome: &Self::Outcome) -> Option<&StoredPublication>;
}

/// A [`Change`] queued for the writer, with its caller's reply: the part
/// of a change the writer sees, whatever its outcome type.
pub(crate) trait Queued: Send {
    /// See [`Command::lock_order`].
    fn lock_order(&self) -> (&str, &ChannelName);

    /// Runs the change and keeps its outcome.
    fn execute<'a>(
        &'a mut self,
        connection: &'a mut AnyConnection,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The app and the event the committed change appended.
    fn appended(&self) -> Option<(&str, &StoredPublication)>;

    /// Answers the caller.
    fn answer(self: Box<Self>, failure: Option<&StoreError>);
}

/// A change and the reply its caller waits on.
pub(crate) struct Pending<C: Change> {
    pub(crate) change: C,
    pub(crate) reply: Reply<C::Outcome>,
}

impl<C: Change> Queued for Pending<C> {
    fn lock_order(&self) -> (&str, &ChannelName) {
        self.change.scope()
    }

    fn execute<'a>(
        &'a mut self,
        connection: &'a mut AnyConnection,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let outcome = self.change.apply(connection, context).await;
            self.reply.keep(outcome)
        })
    }

    fn appended(&self) -> Option<(&str, &StoredPublication)> {
        let publication = C::appended(self.reply.kept()?)?;
        Some((self.change.scope().0, publication))
    }

    fn answer(self: Box<Self>, failure: Option<&StoreError>) {
        self.reply.answer(failure);
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
    match crate::sql::messages::channel_of(connection, app, id).await {
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

async fn publish(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    channel: &ChannelName,
    data: &Bytes,
    info: Option<&ClientInfo>,
) -> Result<StoredPublication, StoreError> {
    event::record(connection, context, app, channel, &published(data, info)).await
}

/// The event of data a client or backend published.
fn published<'a>(data: &'a Bytes, info: Option<&ClientInfo>) -> Published<'a> {
    Published {
        data,
        author: info
            .filter(|info| !info.user.is_empty())
            .map(|info| info.user.clone()),
    }
}
