//! The writer: one task per store that commits every write, many at a time
//! (on SQLite on a thread of its own, with a connection of its own: see
//! `writer_thread.rs`).
//!
//! Callers queue [`Command`]s on a bounded channel and wait on a oneshot.
//! The writer takes the first command, then everything else already queued
//! (up to `max_batch`), and runs the batch in one transaction: one commit,
//! so one fsync, for the whole batch. While it commits, new commands queue
//! up and form the next batch, so batches grow with the load by themselves
//! and no timer delays a lone write.
//!
//! A command that fails (an edit by someone other than the author, say) is
//! answered with its error and leaves no trace, while the others in the
//! batch commit. Savepoints would give that, but they cost two statements
//! per command (`SAVEPOINT`, `RELEASE`), each a round trip to the SQLite
//! worker thread or to PostgreSQL, and refusals are rare. So a batch first
//! runs without them; when a command fails, the transaction is rolled back
//! (nothing was written, nothing fsynced) and the batch runs again with each
//! command in its own savepoint, where the failing one is rolled back alone.
//! A batch whose one command failed needs no second run. A failure of the
//! transaction itself (the commit, a lost connection) answers every command
//! of the batch with that error, after retrying deadlocks and busy
//! databases a few times.
//!
//! Most of a busy batch is plain message sends (no parent, no attachments:
//! nothing to check before writing but the idempotency keys). The writer
//! runs each run of them in bulk (`messages::send_many`): one statement
//! looks up their keys, one takes every channel's offsets, and one
//! multi-row statement each writes the senders' read markers, the
//! messages, their mentions and their events, so a batch of a hundred
//! sends costs about ten statements, not five hundred. Runs of
//! publications go in bulk the same way (two statements). A bulk run that
//! fails is rolled back with its batch like any failing command, and the
//! batch runs again one command at a time under savepoints, which refuses
//! the failing send alone.
//!
//! After the commit, and before answering, the writer hands every appended
//! publication to the delivery handler in commit order, so live subscribers
//! of a channel get its offsets in order even though callers wake up in any
//! order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parley_core::BrokerEventHandler;
use sqlx::any::AnyConnectOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::commands::{self, Command, Context};
use crate::database::{self, begin_statement, settle};
use crate::sql;
use crate::{Backend, MessageEventEncoder, StoreError, Timestamp};

/// A message to the writer.
pub(crate) enum Request {
    /// A write to commit. Boxed: a command carries its outcome, a few
    /// hundred bytes, and the queue should not reserve that for every slot.
    Write(Box<Command>),
    /// Commit what came before, then stop; the sender is told when done.
    Close(oneshot::Sender<()>),
}

/// How often a transaction is tried when it deadlocks or finds the database
/// busy.
const ATTEMPTS: u32 = 3;

/// How long the writer keeps an idle connection for its next batch.
const KEEP_IDLE: Duration = Duration::from_secs(5);

/// Counts of the writer's work, shared with the store handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) transactions: AtomicU64,
    pub(crate) operations: AtomicU64,
    pub(crate) retries: AtomicU64,
    /// Statements the writer sent to the database, the transaction's own
    /// (`BEGIN`, `COMMIT`, savepoints) included: see `sql::counted`.
    pub(crate) statements: Arc<AtomicU64>,
}

/// Where committed publications go for live delivery; set once, after the
/// store is open (the node that delivers is built after the store).
pub(crate) type Delivery = Arc<OnceLock<Arc<dyn BrokerEventHandler>>>;

/// Where the writer's connection comes from.
pub(crate) enum Connections {
    /// The pool, shared with the readers (PostgreSQL): a connection is kept
    /// between batches, see [`Kept`].
    Pool(AnyPool),
    /// A connection of the writer's own, opened where the writer runs and
    /// kept for good (SQLite: see `writer_thread.rs`); opened again after a
    /// failure that leaves it unusable.
    Own(AnyConnectOptions),
}

/// The writer task's state.
pub(crate) struct Writer {
    pub(crate) connections: Connections,
    pub(crate) backend: Backend,
    pub(crate) encoder: Arc<dyn MessageEventEncoder>,
    pub(crate) delivery: Delivery,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_batch: usize,
}

/// The connection the last batch committed on, kept for the next batch.
///
/// A pooled one is kept with the time it was last used: taking one from
/// the pool and giving it back costs sqlx a ping each way (a round trip to
/// PostgreSQL), per batch. One idle for [`KEEP_IDLE`] goes back to the
/// pool, which tests it before handing it out again (a PostgreSQL
/// connection may have been closed meanwhile); so does one whose
/// transaction failed, and the pool drops it when broken. The writer's own
/// connection is kept as long as it works.
type Kept = Option<Held>;

/// A connection the writer holds.
enum Held {
    Pooled(PoolConnection<Any>, Instant),
    Own(AnyConnection),
}

impl Held {
    fn connection(&mut self) -> &mut AnyConnection {
        match self {
            Self::Pooled(connection, _) => connection,
            Self::Own(connection) => connection,
        }
    }

    /// Lets the connection go: a pooled one back to the pool (which settles
    /// it), the writer's own one closed.
    async fn release(self) {
        match self {
            Self::Pooled(connection, _) => drop(connection),
            Self::Own(connection) => {
                if let Err(error) = connection.close().await {
                    tracing::warn!(%error, "closing the store writer's connection failed");
                }
            }
        }
    }
}

impl Writer {
    /// Commits batches until asked to close or until every sender is gone.
    pub(crate) async fn run(self, requests: mpsc::Receiver<Request>) {
        let statements = self.counters.statements.clone();
        sql::counting(statements, self.serve(requests)).await;
    }

    /// The writer's loop: batches until asked to close or until every
    /// sender is gone.
    async fn serve(self, mut requests: mpsc::Receiver<Request>) {
        let max_batch = self.max_batch.max(1);
        let mut kept: Kept = None;
        let mut batch = Vec::with_capacity(max_batch);
        let mut closing = None;
        while closing.is_none() {
            match requests.recv().await {
                Some(Request::Write(command)) => batch.push(*command),
                Some(Request::Close(done)) => closing = Some(done),
                None => break,
            }
            while batch.len() < max_batch && closing.is_none() {
                match requests.try_recv() {
                    Ok(Request::Write(command)) => batch.push(*command),
                    Ok(Request::Close(done)) => closing = Some(done),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit(&mut batch, &mut kept).await;
            }
        }
        // Commands queued after the close request are dropped with the
        // receiver, and their callers get `StoreError::Closed`.
        drop(requests);
        // The pool closes after this answer and waits for its connections;
        // the writer's own connection is closed before it.
        if let Some(held) = kept {
            held.release().await;
        }
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    /// Commits one batch, delivers what it appended and answers every
    /// command in it.
    async fn commit(&self, batch: &mut Vec<Command>, kept: &mut Kept) {
        let statements_before = self.counters.statements.load(Ordering::Relaxed);
        let outcome = self.commit_with_retries(batch, kept).await;
        let statements = self.counters.statements.load(Ordering::Relaxed) - statements_before;
        metrics::counter!("parley_store_statements_total").increment(statements);
        let failure = match outcome {
            Ok(()) => {
                self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .operations
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                metrics::counter!("parley_store_transactions_total").increment(1);
                metrics::counter!("parley_store_operations_total").increment(batch.len() as u64);
                self.deliver(batch);
                None
            }
            Err(error) => {
                tracing::error!(%error, operations = batch.len(), "store transaction failed");
                Some(error)
            }
        };
        for command in batch.drain(..) {
            command.answer(failure.as_ref());
        }
    }

    async fn commit_with_retries(
        &self,
        batch: &mut [Command],
        kept: &mut Kept,
    ) -> Result<(), StoreError> {
        let mut held = match kept.take() {
            Some(Held::Pooled(connection, used)) if used.elapsed() < KEEP_IDLE => {
                Held::Pooled(connection, used)
            }
            Some(Held::Own(connection)) => Held::Own(connection),
            Some(idle) => {
                idle.release().await;
                self.connect().await?
            }
            None => self.connect().await?,
        };
        let result = self.run_batch(held.connection(), batch).await;
        match held {
            Held::Pooled(connection, _) if result.is_ok() => {
                *kept = Some(Held::Pooled(connection, Instant::now()));
            }
            // Otherwise the connection goes back to the pool, which rolls
            // back what the failure left open or, failing that, closes it
            // (`database::settle`): the next batch starts on a clean
            // connection, whatever the error was.
            Held::Pooled(..) => {}
            // The writer's own connection settles here, the same way, and
            // is opened again for the next batch if it cannot.
            Held::Own(mut connection) => {
                if result.is_ok() || settle(&mut connection).await {
                    *kept = Some(Held::Own(connection));
                } else {
                    Held::Own(connection).release().await;
                }
            }
        }
        result
    }

    /// A connection for a batch when none is kept.
    async fn connect(&self) -> Result<Held, StoreError> {
        Ok(match &self.connections {
            Connections::Pool(pool) => Held::Pooled(pool.acquire().await?, Instant::now()),
            Connections::Own(options) => Held::Own(database::open(options, self.backend).await?),
        })
    }

    /// Runs the batch's transaction until it commits, fails for good, or
    /// has been retried [`ATTEMPTS`] times.
    async fn run_batch(
        &self,
        connection: &mut AnyConnection,
        batch: &mut [Command],
    ) -> Result<(), StoreError> {
        // Edits and deletes name a message, not a channel: find their
        // channels first, then sort the batch into lock order. The sort is
        // stable, so the commands of one channel keep their queue order.
        for command in batch.iter_mut() {
            command.resolve(connection).await;
        }
        batch.sort_by(|a, b| a.lock_order().cmp(&b.lock_order()));
        let mut isolation = Isolation::Together;
        let mut attempt = 1;
        loop {
            match self.transaction(connection, batch, isolation).await {
                Ok(Tried::Committed) => return Ok(()),
                Ok(Tried::Refused { rerun: false }) => return Ok(()),
                Ok(Tried::Refused { rerun: true }) => isolation = Isolation::Savepoints,
                Err(error) if error.is_retryable() && attempt < ATTEMPTS => {
                    // The failed try may have left its transaction open
                    // (see `database::settle`); one that cannot be closed
                    // fails the batch, and the connection is not reused.
                    if !settle(connection).await {
                        return Err(error);
                    }
                    tracing::warn!(%error, attempt, "store transaction conflicted; retrying");
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One try at the batch's transaction.
    async fn transaction(
        &self,
        connection: &mut AnyConnection,
        batch: &mut [Command],
        isolation: Isolation,
    ) -> Result<Tried, StoreError> {
        sql::counted();
        let mut transaction = connection.begin_with(begin_statement(self.backend)).await?;
        let context = Context {
            encoder: &*self.encoder,
            now: Timestamp::now(),
        };
        let mut runnable: Vec<&mut Command> = batch
            .iter_mut()
            .filter(|command| !command.is_settled())
            .collect();
        let count = runnable.len();
        match isolation {
            Isolation::Savepoints => {
                for command in runnable {
                    run_in_savepoint(&mut transaction, command, &context).await?;
                }
            }
            Isolation::Together => {
                // Runs of plain message sends, and of publications, go in
                // bulk, a handful of statements for the whole run; every
                // other command runs alone, in its place in the lock order.
                let mut rest = &mut runnable[..];
                while !rest.is_empty() {
                    let kind = rest[0].bulk();
                    let run = match kind {
                        Some(_) => rest
                            .iter()
                            .take_while(|command| command.bulk() == kind)
                            .count(),
                        None => 1,
                    };
                    let (now, later) = rest.split_at_mut(run);
                    let result = match (kind, now) {
                        (Some(kind), now) => {
                            commands::execute_bulk(&mut transaction, &context, kind, now).await
                        }
                        (None, [command]) => command.execute(&mut transaction, &context).await,
                        (None, _) => Err(StoreError::corrupt("a lone command taken with others")),
                    };
                    if let Err(error) = result {
                        if error.is_retryable() {
                            return Err(error);
                        }
                        sql::counted();
                        transaction.rollback().await?;
                        // The failing command keeps its error. Alone in the
                        // batch, that is its answer and nothing else was
                        // written; a lost race on an idempotency key runs
                        // again under a savepoint, which finds the winner.
                        let rerun = count > 1 || error.is_unique_violation();
                        return Ok(Tried::Refused { rerun });
                    }
                    rest = later;
                }
            }
        }
        sql::counted();
        transaction.commit().await?;
        Ok(Tried::Committed)
    }

    /// Hands the batch's publications to the delivery handler, in the order
    /// they were committed.
    fn deliver(&self, batch: &[Command]) {
        let Some(handler) = self.delivery.get() else {
            return;
        };
        for (app, publication, info) in batch.iter().flat_map(Command::appended) {
            handler.handle_publication(app, Arc::new(publication.to_publication(info.cloned())));
        }
    }
}

/// How the commands of one transaction are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints: a failing command rolls the whole transaction back.
    Together,
    /// Each command in its own savepoint: a failing one rolls back alone.
    Savepoints,
}

/// How a transaction that did not fail as a whole ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tried {
    /// Committed, every command with its outcome.
    Committed,
    /// A command failed without savepoints and the transaction was rolled
    /// back; `rerun` when the batch must run again with savepoints (it held
    /// other commands, or the failure is a race another run resolves).
    Refused { rerun: bool },
}

/// Runs one command inside a savepoint. Its own failure rolls back only the
/// command; a failure that dooms the transaction (a deadlock, a lost
/// connection, a savepoint that cannot be rolled back) is returned.
async fn run_in_savepoint(
    connection: &mut AnyConnection,
    command: &mut Command,
    context: &Context<'_>,
) -> Result<(), StoreError> {
    statement(connection, "SAVEPOINT command").await?;
    let mut result = command.execute(connection, context).await;
    if result.as_ref().is_err_and(StoreError::is_unique_violation) {
        // Another node committed the same idempotency key a moment ago; the
        // second run finds its message.
        statement(connection, "ROLLBACK TO SAVEPOINT command").await?;
        result = command.execute(connection, context).await;
    }
    match result {
        Err(error) if error.is_retryable() => return Err(error),
        Err(_) => {
            statement(connection, "ROLLBACK TO SAVEPOINT command").await?;
        }
        Ok(()) => {}
    }
    statement(connection, "RELEASE SAVEPOINT command").await?;
    Ok(())
}

/// Runs a statement whose result is only success or failure.
async fn statement(connection: &mut AnyConnection, text: &'static str) -> Result<(), StoreError> {
    sql::counted();
    sqlx::query(text).execute(connection).await?;
    Ok(())
}
