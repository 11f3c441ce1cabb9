//! `Store`: the handle the server holds, its life (open, close, stats,
//! delivery) and the API of channel streams. The API of each chat concept
//! is an `impl Store` block in that concept's file (`messages.rs`,
//! `rooms.rs`, `pins.rs`, …).
//!
//! Writes are queued for the writer task (see `writer.rs`) and answered after
//! their transaction commits. Reads go straight to the connection pool and
//! see everything committed before they start.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parley_core::{BrokerEventHandler, ChannelName, ClientInfo, StreamPosition};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::commands::{Change, Command, Pending, Reply};
use crate::sql::{self, End, Ordered, Window, streams};
use crate::writer::{Connections, Counters, Delivery, Request, Writer};
use crate::writer_thread;
use crate::{
    AppliedMigration, Backend, HistoryCursor, HistoryPage, HistoryQuery, MAX_PAGE_SIZE,
    MAX_RECOVERY, MessageEventEncoder, Recovery, Retention, StoreError, StoreOptions,
    StoredPublication, TrimScope, migrate,
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
    /// Readers take connections from it directly; so does the writer on
    /// PostgreSQL.
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
    /// Statements the writer sent to the database (its transactions' own
    /// included), the round trips its writes cost. It counts the statements
    /// of streams, messages, read markers, mentions, reactions and search;
    /// the other features' projection statements are not counted.
    pub statements: u64,
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
        // The SQLite writer opens a connection of its own, outside the
        // pool (see `writer_thread.rs`); the PostgreSQL one takes its from
        // the pool.
        let readers = match backend {
            Backend::Sqlite => options.max_connections.saturating_sub(1),
            Backend::Postgres => options.max_connections.max(2),
        };
        let (pool, connect_options) =
            crate::database::connect(&options.database, readers, options.connect_timeout)
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
        let connections = match backend {
            Backend::Sqlite => Connections::Own(connect_options),
            Backend::Postgres => Connections::Pool(pool.clone()),
        };
        let writer = Writer {
            connections,
            backend,
            encoder,
            delivery: delivery.clone(),
            counters: counters.clone(),
            max_batch: options.max_batch,
        };
        if let Err(error) = writer_thread::start(writer, receiver) {
            pool.close().await;
            return Err(opened(error));
        }
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
            statements: counters.statements.load(Ordering::Relaxed),
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

/// The offsets that bound a page for its `has_older` and `has_newer`: its
/// first and last rows, or, for an empty page, the edges of the window it
/// was read from (nothing inside the window, so only what lies outside
/// counts).
pub(crate) fn page_bounds(first: Option<u64>, last: Option<u64>, window: Window) -> (u64, u64) {
    match (first, last) {
        (Some(first), Some(last)) => (first, last),
        _ => (window.after.saturating_add(1), window.up_to),
    }
}
