//! `StoreError`: the one error type of the store's boundary.

use std::sync::Arc;

/// Why a store operation failed.
///
/// The server maps these to its wire errors: [`NotFound`](Self::NotFound)
/// and [`Forbidden`](Self::Forbidden) and [`InvalidInput`](Self::InvalidInput)
/// are the caller's to report; [`Database`](Self::Database),
/// [`Migration`](Self::Migration), [`Open`](Self::Open) and
/// [`Closed`](Self::Closed) are internal
/// and their cause goes to the logs, not to clients.
///
/// It is `Clone` because one failed group commit fails every operation in the
/// batch with the same cause.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The message does not exist in this app (or was deleted, for an edit).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The actor may not do this: only a message's author edits it, and only
    /// its author or a moderator deletes it.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The request itself is wrong: empty text, a reply to a message of
    /// another channel, an unusable database URL.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database failed or returned something the store cannot read.
    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    /// A migration failed, or an applied migration was changed.
    #[error("migration error: {0}")]
    Migration(#[source] Arc<sqlx::migrate::MigrateError>),
    /// The store could not be opened: which database (the SQLite path, or
    /// the PostgreSQL URL without its password), and why.
    #[error("{database}: {cause}")]
    Open {
        /// The database, as [`Database`](crate::Database) displays it.
        database: String,
        /// What failed: the driver's or the operating system's error.
        #[source]
        cause: Box<StoreError>,
    },
    /// A compare-and-set write found the document at another version: the
    /// document as it is now (`None` when it does not exist).
    #[error("the document is at another version")]
    VersionConflict(Box<Option<crate::Document>>),
    /// A document would be larger than its namespace allows.
    #[error("the document would be {size} bytes, over the limit of {max}")]
    TooLarge {
        /// Its size, in bytes of JSON.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The store was closed, or its writer task stopped.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the whole transaction should be tried again: a deadlock or
    /// serialization failure on PostgreSQL, or a busy database on SQLite
    /// (another process held the write lock past the busy timeout).
    pub(crate) fn is_retryable(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        let Some(database) = error.as_database_error() else {
            return false;
        };
        match database.code().as_deref() {
            // serialization_failure and deadlock_detected.
            Some("40001") | Some("40P01") => true,
            // SQLITE_BUSY and SQLITE_LOCKED, with any extended code.
            Some(code) => code
                .parse::<i32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
            None => false,
        }
    }

    /// Whether a unique index refused a row: another node inserted the same
    /// idempotency key at the same moment.
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            Self::Database(error) => error
                .as_database_error()
                .is_some_and(|database| database.is_unique_violation()),
            _ => false,
        }
    }

    /// A value read from the database that the store cannot use, such as a
    /// negative offset or an unknown event kind.
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Database(Arc::new(sqlx::Error::Decode(what.into().into())))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(Arc::new(error))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Migration(Arc::new(error))
    }
}
