//! Where the store keeps its data, and how it connects to it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, TransactionManager};

use crate::StoreError;

/// The database behind a store.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created if missing: the default, a file in the data
    /// directory.
    Sqlite {
        /// The database file; its directory is created if missing.
        path: PathBuf,
    },
    /// A PostgreSQL database, shared by any number of nodes.
    Postgres {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
}

impl Database {
    /// Reads a database URL: `postgres://…` or `postgresql://…` for
    /// PostgreSQL, `sqlite://PATH` or `sqlite:PATH` for a SQLite file.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                StoreError::InvalidInput(
                    "the database URL must start with postgres://, postgresql:// or sqlite:".into(),
                )
            })?;
        if path.is_empty() || path.contains('?') {
            return Err(StoreError::InvalidInput(
                "a sqlite: URL names a file, without parameters".into(),
            ));
        }
        Ok(Self::Sqlite {
            path: PathBuf::from(path),
        })
    }

    /// Which kind of database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// Shows the database without the password of a PostgreSQL URL, so that the
/// options can be logged.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Self::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &without_password(url))
                .finish(),
        }
    }
}

/// Names the database for messages: `SQLite database PATH`, or
/// `PostgreSQL database URL` with the URL's password hidden.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "SQLite database {}", path.display()),
            Self::Postgres { url } => write!(f, "PostgreSQL database {}", without_password(url)),
        }
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => url.to_owned(),
    }
}

/// The kinds of database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file, one node.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The database.
    pub database: Database,
    /// Connections at most: one for the writer, the rest for reads (at
    /// least one of each).
    pub max_connections: u32,
    /// Write operations waiting for the writer at most; callers wait for
    /// room beyond that.
    pub queue_capacity: usize,
    /// Operations committed in one transaction at most.
    pub max_batch: usize,
    /// How long opening the store waits for its first connection (and its
    /// settings) before it fails with the cause.
    pub connect_timeout: Duration,
}

impl StoreOptions {
    /// Options with the defaults for `database`: 4 connections on SQLite
    /// (one writer, readers for the rest), 10 on PostgreSQL, 4096 queued
    /// writes, batches of up to 256, and [`DEFAULT_CONNECT_TIMEOUT`] to
    /// connect.
    pub fn new(database: Database) -> Self {
        let max_connections = match database.backend() {
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        };
        Self {
            database,
            max_connections,
            queue_capacity: 4096,
            max_batch: 256,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// How long opening a store waits for its first connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a SQLite connection waits for a write lock held by another
/// process before the transaction fails (and the writer retries it).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the connection pool.
///
/// SQLite runs in WAL mode with `synchronous = FULL`. WAL lets readers work
/// while the writer commits. `FULL` makes every commit fsync the WAL before
/// it returns, so an acknowledged write survives not only `kill -9` of the
/// process (which `NORMAL` would also survive, the write being in the OS
/// cache) but also a power loss or kernel crash (which `NORMAL` would not).
/// Group commit pays that fsync once per batch, not once per message.
///
/// One connection is opened first, directly and within `connect_timeout`:
/// the pool retries a failing connect until its own timeout and then
/// reports only that it timed out, while the first attempt knows why (a
/// refused connection, a bad password, a full disk). The caller wraps the
/// error with the database's name.
pub(crate) async fn connect(
    database: &Database,
    max_connections: u32,
    connect_timeout: Duration,
) -> Result<(AnyPool, AnyConnectOptions), StoreError> {
    sqlx::any::install_default_drivers();
    let options = connect_options(database).await?;
    let first = async { open(&options, database.backend()).await?.close().await };
    match tokio::time::timeout(connect_timeout, first).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(StoreError::Database(Arc::new(sqlx::Error::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {connect_timeout:?}"),
                ),
            ))));
        }
    }
    let backend = database.backend();
    let mut pool = AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .after_connect(move |connection, _| Box::pin(prepare(connection, backend)))
        .after_release(|connection, _| Box::pin(async move { Ok(settle(connection).await) }));
    if backend == Backend::Sqlite {
        // A SQLite connection is a file on a local worker thread, not a
        // socket that can break while idle; pinging it before every acquire
        // (sqlx's default) only adds a round trip to that thread to every
        // read. sqlx still pings it when it is released.
        pool = pool.test_before_acquire(false);
    }
    let pool = pool.connect_with(options.clone()).await?;
    Ok((pool, options))
}

/// Opens one connection outside the pool, with the settings of every
/// connection: the SQLite writer's (see `writer_thread.rs`).
pub(crate) async fn open(
    options: &AnyConnectOptions,
    backend: Backend,
) -> Result<AnyConnection, sqlx::Error> {
    let mut connection = AnyConnection::connect_with(options).await?;
    prepare(&mut connection, backend).await?;
    Ok(connection)
}

/// Where to connect: for SQLite, also creates the file's directory.
async fn connect_options(database: &Database) -> Result<AnyConnectOptions, StoreError> {
    match database {
        Database::Sqlite { path } => {
            if let Some(directory) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(directory)
                    .await
                    .map_err(|error| {
                        sqlx::Error::Configuration(
                            format!(
                                "cannot create the directory {}: {error}",
                                directory.display()
                            )
                            .into(),
                        )
                    })?;
            }
            let sqlite = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            Ok(AnyConnectOptions::from_url(&sqlite.to_url_lossy())?)
        }
        Database::Postgres { url } => Ok(AnyConnectOptions::from_str(url)?),
    }
}

/// The settings every new connection gets: on SQLite, WAL and
/// `synchronous = FULL` (see [`connect`]).
async fn prepare(connection: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        connection.execute("PRAGMA journal_mode = WAL").await?;
        connection.execute("PRAGMA synchronous = FULL").await?;
    }
    Ok(())
}

/// Makes sure a connection going back to the pool has no transaction open;
/// false when that cannot be made sure, and the pool then closes it (and
/// opens a fresh one when one is needed).
///
/// A transaction that failed in an I/O error can leave its connection
/// dirty: SQLite rolls a transaction back by itself on a full disk, so
/// sqlx's `COMMIT` fails and so does its `ROLLBACK` ("no transaction is
/// active"), and sqlx still counts the transaction as open. A connection
/// like that, handed out again, refuses every `BEGIN` ("attempted to call
/// begin_with at non-zero transaction depth") until the process restarts.
/// This check runs for every connection released, the writer's and the
/// readers' alike, and costs nothing for a clean one.
pub(crate) async fn settle(connection: &mut AnyConnection) -> bool {
    if !connection.is_in_transaction() {
        return true;
    }
    // A dropped transaction queues its rollback on the connection; a ping
    // runs it (and shows whether the connection still works).
    if connection.ping().await.is_err() {
        return false;
    }
    if !connection.is_in_transaction() {
        return true;
    }
    let rolled_back = <Any as sqlx::Database>::TransactionManager::rollback(connection)
        .await
        .is_ok();
    rolled_back && !connection.is_in_transaction()
}

/// The statement that opens a write transaction. On SQLite it takes the write
/// lock at once (`IMMEDIATE`): a transaction that reads first and upgrades
/// later can fail on a busy database without waiting. On PostgreSQL the
/// stream rows are the locks, taken as each operation updates them.
pub(crate) fn begin_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_urls() {
        assert_eq!(
            Database::from_url("sqlite:///var/lib/parley/parley.db").ok(),
            Some(Database::Sqlite {
                path: "/var/lib/parley/parley.db".into()
            })
        );
        assert_eq!(
            Database::from_url("sqlite:data/parley.db").ok(),
            Some(Database::Sqlite {
                path: "data/parley.db".into()
            })
        );
        assert_eq!(
            Database::from_url("postgresql://db/parley")
                .map(|d| d.backend())
                .ok(),
            Some(Backend::Postgres)
        );
        assert!(Database::from_url("mysql://db/parley").is_err());
        assert!(Database::from_url("sqlite:").is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let database = Database::from_url("postgres://parley:hunter2@db:5432/parley");
        let shown = format!("{database:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://parley:***@db:5432/parley"),
            "{shown}"
        );
        let named = database.map(|database| database.to_string());
        assert_eq!(
            named.ok().as_deref(),
            Some("PostgreSQL database postgres://parley:***@db:5432/parley")
        );
    }
}
