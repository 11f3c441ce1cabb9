//! `Store`: the handle the server holds, and the store's whole API.
//!
//! Writes are queued for the writer task (see `writer.rs`) and answered after
//! their transaction commits. Reads go straight to the connection pool and
//! see everything committed before they start.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parley_core::{BrokerEventHandler, ChannelName, ClientInfo, StreamPosition};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::commands::{Change, Command, Pending, Reply};
use crate::sql::{self, End, Ordered, Window, messages, reactions, streams, uploads};
use crate::writer::{Counters, Delivery, Request, Writer};
use crate::{
    AppliedMigration, Backend, Changed, HistoryCursor, HistoryPage, HistoryQuery, MAX_PAGE_SIZE,
    MAX_RECOVERY, Message, MessageCursor, MessageDelete, MessageEdit, MessageEventEncoder,
    MessageId, MessagePage, MessageQuery, NewMessage, NewUpload, Order, Reacted, ReactionChange,
    ReactionCount, ReactionTarget, Recovery, Retention, Revision, Sent, StoreError, StoreOptions,
    StoredPublication, TrimScope, Upload, UploadId, migrate,
};

/// The durable store of one server process: channel streams, their
/// publications, and chat messages, on SQLite or PostgreSQL.
///
/// Cloning is cheap; every clone talks to the same writer and pool.
/// Everything is scoped by app id: no call reads or changes another app's
/// data.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// Readers take connections from it directly; the writer uses it too.
    pool: AnyPool,
    backend: Backend,
    /// The writer's queue. Bounded, so a store that cannot keep up slows its
    /// callers down instead of growing without limit.
    requests: mpsc::Sender<Request>,
    /// The writer counts, the handle reads: shared with the writer task.
    counters: Arc<Counters>,
    /// Shared with the writer, which delivers through it once it is set.
    delivery: Delivery,
    /// Kept for the server to log after opening.
    applied: Vec<AppliedMigration>,
}

/// What the writer has done since the store opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Transactions committed: each is one batch, one fsync.
    pub transactions: u64,
    /// Write operations answered by them, refused ones included.
    pub operations: u64,
    /// Transactions tried again after a deadlock or a busy database.
    pub retries: u64,
}

impl Store {
    /// Connects, applies the migrations the database lacks and starts the
    /// writer task. `encoder` turns message events into the payloads their
    /// publications carry.
    ///
    /// Must be called within a Tokio runtime.
    pub async fn open(
        options: StoreOptions,
        encoder: Arc<dyn MessageEventEncoder>,
    ) -> Result<Self, StoreError> {
        let backend = options.database.backend();
        let opened = |cause| StoreError::Open {
            database: options.database.to_string(),
            cause: Box::new(cause),
        };
        let pool = crate::database::connect(
            &options.database,
            options.max_connections,
            options.connect_timeout,
        )
        .await
        .map_err(opened)?;
        let applied = match migrate::run(&pool, backend).await {
            Ok(applied) => applied,
            Err(error) => {
                pool.close().await;
                return Err(opened(error));
            }
        };
        let (requests, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let delivery: Delivery = Arc::new(OnceLock::new());
        let writer = Writer {
            pool: pool.clone(),
            backend,
            encoder,
            delivery: delivery.clone(),
            counters: counters.clone(),
            max_batch: options.max_batch,
        };
        tokio::spawn(writer.run(receiver));
        Ok(Self {
            shared: Arc::new(Shared {
                pool,
                backend,
                requests,
                counters,
                delivery,
                applied,
            }),
        })
    }

    /// The migrations that opening the store applied, oldest first (empty
    /// when the schema was up to date), for the server to log.
    pub fn applied_migrations(&self) -> &[AppliedMigration] {
        &self.shared.applied
    }

    /// The connection pool, for reads and for the few single-statement
    /// writes that need no stream lock (moderation state, reports, the
    /// webhook queue).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.shared.pool
    }

    /// The kind of database behind the store.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// Sends every publication the store commits from now on to `handler`,
    /// in commit order per channel, before the writing caller is answered.
    /// This is how publications reach live subscribers in offset order; it
    /// is set once (the node is built after the store) and returns false if
    /// a handler was set before.
    pub fn deliver_to(&self, handler: Arc<dyn BrokerEventHandler>) -> bool {
        self.shared.delivery.set(handler).is_ok()
    }

    /// What the writer has done since the store opened.
    pub fn stats(&self) -> StoreStats {
        let counters = &self.shared.counters;
        StoreStats {
            transactions: counters.transactions.load(Ordering::Relaxed),
            operations: counters.operations.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
        }
    }

    /// Commits every write queued so far, stops the writer and closes the
    /// pool. Later writes fail with [`StoreError::Closed`]. Closing twice is
    /// harmless.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self
            .shared
            .requests
            .send(Request::Close(done))
            .await
            .is_ok()
        {
            // An error means the writer already stopped: nothing to wait for.
            let _ = closed.await;
        }
        self.shared.pool.close().await;
    }

    /// The stream's position (epoch and last offset), creating the stream
    /// with a fresh epoch if the channel has none yet. A subscriber to a
    /// channel without events gets this epoch, the one its first event will
    /// carry.
    pub async fn stream(
        &self,
        app: &str,
        channel: &ChannelName,
    ) -> Result<StreamPosition, StoreError> {
        let existing = {
            let mut connection = self.shared.pool.acquire().await?;
            streams::position(&mut connection, app, channel).await?
        };
        match existing {
            Some(position) => Ok(position),
            None => {
                let (app, channel) = (Arc::from(app), channel.clone());
                self.submit(|reply| Command::CreateStream {
                    app,
                    channel,
                    reply,
                })
                .await
            }
        }
    }

    /// Appends opaque `data` to the channel's stream as a `publication`
    /// event. `info` goes to live delivery with it but is not stored.
    pub async fn publish(
        &self,
        app: Arc<str>,
        channel: ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
    ) -> Result<StoredPublication, StoreError> {
        self.submit(|reply| Command::Publish {
            app,
            channel,
            data,
            info,
            reply,
        })
        .await
    }

    /// What a client that saw up to `offset` missed: the publications after
    /// it, oldest first, at most `limit` (capped at [`MAX_RECOVERY`]), with
    /// the stream's position and whether they fill the gap. Recovery is all
    /// or nothing: the caller recovers the client only when
    /// [`Recovery::complete`] holds and the client's epoch is the
    /// position's.
    pub async fn publications_after(
        &self,
        app: &str,
        channel: &ChannelName,
        offset: u64,
        limit: usize,
    ) -> Result<Recovery, StoreError> {
        let position = self.stream(app, channel).await?;
        let window = Window::new(
            offset,
            position.offset,
            End::Oldest,
            limit.min(MAX_RECOVERY),
        );
        let publications = {
            let mut connection = self.shared.pool.acquire().await?;
            streams::range(&mut connection, app, channel, &position.epoch, window).await?
        };
        // Offsets are consecutive, so the range is whole exactly when it
        // holds one publication per offset.
        let complete =
            offset <= position.offset && publications.len() as u64 == position.offset - offset;
        Ok(Recovery {
            publications,
            position,
            complete,
        })
    }

    /// One page of the channel's history, oldest first, with the stream's
    /// position. The limit is capped to `1..=MAX_PAGE_SIZE`; for the
    /// position alone, call [`Store::stream`].
    pub async fn history(
        &self,
        app: &str,
        channel: &ChannelName,
        query: HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        let position = self.stream(app, channel).await?;
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let last = position.offset;
        let window = match query.cursor {
            HistoryCursor::Newest => Window::new(0, last, End::Newest, limit),
            HistoryCursor::Oldest => Window::new(0, last, End::Oldest, limit),
            HistoryCursor::Before(offset) => {
                Window::new(0, offset.saturating_sub(1).min(last), End::Newest, limit)
            }
            HistoryCursor::After(offset) => Window::new(offset, last, End::Oldest, limit),
        };
        let mut connection = self.shared.pool.acquire().await?;
        let publications =
            streams::range(&mut connection, app, channel, &position.epoch, window).await?;
        let (lowest, highest) = page_bounds(
            publications.first().map(|p| p.position.offset),
            publications.last().map(|p| p.position.offset),
            window,
        );
        let beyond = sql::beyond(
            &mut connection,
            Ordered::Publications,
            app,
            channel,
            lowest,
            highest,
        )
        .await?;
        Ok(HistoryPage {
            publications,
            position,
            has_older: beyond.older,
            has_newer: beyond.newer,
        })
    }

    /// Removes the publications `retention` no longer keeps, from one
    /// channel, one namespace or every channel of the app, and returns how
    /// many. Streams
    /// keep their epoch and offsets; messages are not touched (they are the
    /// chat's state, removed only by a hard delete).
    pub async fn trim(
        &self,
        app: Arc<str>,
        scope: TrimScope,
        retention: Retention,
    ) -> Result<u64, StoreError> {
        if retention == Retention::default() {
            return Ok(0);
        }
        self.submit(|reply| Command::Trim {
            app,
            scope,
            retention,
            reply,
        })
        .await
    }

    /// Sends a chat message: stores it and appends its `message_created`
    /// publication in one transaction, and answers after the commit. With a
    /// `client_msg_id` seen before from the same author in the channel, it
    /// returns that message and appends nothing.
    pub async fn send_message(&self, new: NewMessage) -> Result<Sent, StoreError> {
        if new.text.is_empty() && new.attachments.is_empty() {
            return Err(StoreError::InvalidInput("the text is empty".into()));
        }
        if new.attachments.len() > crate::MAX_ATTACHMENTS {
            return Err(StoreError::InvalidInput(format!(
                "a message carries at most {} attachments",
                crate::MAX_ATTACHMENTS
            )));
        }
        if new.client_msg_id.as_deref() == Some("") {
            return Err(StoreError::InvalidInput(
                "the client_msg_id is empty".into(),
            ));
        }
        self.submit(|reply| Command::Send { new, reply }).await
    }

    /// Replaces a message's text, keeping the previous text in its edit
    /// trail, and appends `message_updated`. Only the author may edit;
    /// deleted messages are not found.
    pub async fn edit_message(&self, edit: MessageEdit) -> Result<Changed, StoreError> {
        if edit.text.is_empty() {
            return Err(StoreError::InvalidInput("the text is empty".into()));
        }
        self.submit(|reply| Command::Edit {
            edit,
            channel: None,
            reply,
        })
        .await
    }

    /// Deletes a message and appends `message_deleted`. Its author may
    /// soft-delete it; a moderator may soft- or hard-delete anyone's.
    ///
    /// Deleting also clears the message's edit trail and redacts its earlier
    /// events: their stored data is encoded again from the tombstone, so
    /// history and recovery no longer carry the deleted text. That is the
    /// one case where stored data differs from what live subscribers got.
    pub async fn delete_message(&self, delete: MessageDelete) -> Result<Changed, StoreError> {
        self.submit(|reply| Command::Delete {
            delete,
            channel: None,
            reply,
        })
        .await
    }

    /// The message `author` sent before in `channel` with the idempotency
    /// key `client_msg_id`, if any: what a resend is answered with.
    pub async fn sent_message(
        &self,
        app: &str,
        channel: &ChannelName,
        author: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let mut connection = self.shared.pool.acquire().await?;
        let Some(mut message) =
            messages::find_sent(&mut connection, app, channel, author, client_msg_id).await?
        else {
            return Ok(None);
        };
        uploads::fill(&mut connection, std::slice::from_mut(&mut message)).await?;
        Ok(Some(message))
    }

    /// A message of the app in its current state; tombstones included.
    pub async fn message(&self, app: &str, id: MessageId) -> Result<Message, StoreError> {
        let mut connection = self.shared.pool.acquire().await?;
        let mut message = messages::find(&mut connection, app, id)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        uploads::fill(&mut connection, std::slice::from_mut(&mut message)).await?;
        Ok(message)
    }

    /// One page of the channel's messages in their current state. The limit
    /// is capped to `1..=MAX_PAGE_SIZE`. A cursor message must belong to the
    /// channel (a hard-deleted one is not found).
    pub async fn messages(
        &self,
        app: &str,
        channel: &ChannelName,
        query: MessageQuery,
    ) -> Result<MessagePage, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.shared.pool.acquire().await?;
        let connection = &mut *connection;
        let window = match query.cursor {
            MessageCursor::Newest => Window::new(0, u64::MAX, End::Newest, limit),
            MessageCursor::Oldest => Window::new(0, u64::MAX, End::Oldest, limit),
            MessageCursor::Before(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                Window::new(0, anchor.offset.saturating_sub(1), End::Newest, limit)
            }
            MessageCursor::After(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                Window::new(anchor.offset, u64::MAX, End::Oldest, limit)
            }
            MessageCursor::Around(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                let older = (limit - 1) / 2;
                let before = Window::new(0, anchor.offset.saturating_sub(1), End::Newest, older);
                let after = Window::new(anchor.offset, u64::MAX, End::Oldest, limit - 1 - older);
                let mut page = messages::range(connection, app, channel, before).await?;
                page.push(anchor);
                page.extend(messages::range(connection, app, channel, after).await?);
                return message_page(connection, app, channel, page, after, query.order).await;
            }
        };
        let page = messages::range(connection, app, channel, window).await?;
        message_page(connection, app, channel, page, window, query.order).await
    }

    /// The texts a message had before its edits, oldest first (empty for a
    /// message never edited, and for a deleted one: deleting clears the
    /// trail).
    pub async fn edit_trail(&self, app: &str, id: MessageId) -> Result<Vec<Revision>, StoreError> {
        let mut connection = self.shared.pool.acquire().await?;
        if messages::channel_of(&mut connection, app, id)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound("message"));
        }
        messages::revisions(&mut connection, id).await
    }

    /// Keeps an upload's metadata, once its bytes are in the upload storage
    /// under its id.
    pub async fn create_upload(&self, upload: NewUpload) -> Result<Upload, StoreError> {
        self.submit(|reply| Command::CreateUpload { upload, reply })
            .await
    }

    /// The upload with this id. Upload ids are unguessable and unique in
    /// the whole store, so this is the one read not scoped by app: the id is
    /// the right to read the upload, and the upload names its app.
    pub async fn upload(&self, id: &UploadId) -> Result<Upload, StoreError> {
        let mut connection = self.shared.pool.acquire().await?;
        uploads::find(&mut connection, id)
            .await?
            .ok_or(StoreError::NotFound("upload"))
    }

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
        let mut connection = self.shared.pool.acquire().await?;
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
        let mut connection = self.shared.pool.acquire().await?;
        reactions::channel_counts(&mut connection, app, channel, reader).await
    }

    /// Queues a durable feature's write (see [`Change`]) for the writer and
    /// waits for its outcome.
    pub(crate) async fn change<C: Change>(&self, change: C) -> Result<C::Outcome, StoreError> {
        self.submit(|reply| Command::Change(Box::new(Pending { change, reply })))
            .await
    }

    /// Queues a command for the writer and waits for its answer.
    pub(crate) async fn submit<T>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, StoreError> {
        let (sender, answer) = oneshot::channel();
        self.shared
            .requests
            .send(Request::Write(Box::new(command(Reply::new(sender)))))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// The message a page cursor names, which must be in the channel.
async fn anchor(
    connection: &mut sqlx::AnyConnection,
    app: &str,
    channel: &ChannelName,
    id: MessageId,
) -> Result<Message, StoreError> {
    messages::find(connection, app, id)
        .await?
        .filter(|message| message.channel == *channel)
        .ok_or(StoreError::NotFound("message"))
}

/// A page of `messages` (oldest first, read from `window`) with its
/// `has_older` and `has_newer`, in `order`.
async fn message_page(
    connection: &mut sqlx::AnyConnection,
    app: &str,
    channel: &ChannelName,
    mut messages: Vec<Message>,
    window: Window,
    order: Order,
) -> Result<MessagePage, StoreError> {
    let (lowest, highest) = page_bounds(
        messages.first().map(|m| m.offset),
        messages.last().map(|m| m.offset),
        window,
    );
    let beyond = sql::beyond(connection, Ordered::Messages, app, channel, lowest, highest).await?;
    uploads::fill(connection, &mut messages).await?;
    if order == Order::NewestFirst {
        messages.reverse();
    }
    Ok(MessagePage {
        messages,
        has_older: beyond.older,
        has_newer: beyond.newer,
    })
}

/// The offsets that bound a page for its `has_older` and `has_newer`: its
/// first and last rows, or, for an empty page, the edges of the window it
/// was read from (nothing inside the window, so only what lies outside
/// counts).
fn page_bounds(first: Option<u64>, last: Option<u64>, window: Window) -> (u64, u64) {
    match (first, last) {
        (Some(first), Some(last)) => (first, last),
        _ => (window.after.saturating_add(1), window.up_to),
    }
}
