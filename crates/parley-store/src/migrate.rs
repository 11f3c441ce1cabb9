//! Schema migrations: one directory per backend, embedded in the binary, run
//! at start-up.
//!
//! An applied migration is never edited: sqlx keeps each one's checksum and
//! refuses to start on a mismatch. A schema change is a new file in both
//! `migrations/sqlite` and `migrations/postgres`.

use std::collections::HashSet;

use sqlx::AnyPool;
use sqlx::migrate::{Migrate, Migrator};

use crate::{Backend, StoreError};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// A migration that opening the store applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its version, the number its file name starts with.
    pub version: i64,
    /// Its description, from the rest of its file name.
    pub description: String,
}

/// Applies the migrations the database lacks and returns them, oldest first.
///
/// The migration lock (an advisory lock on PostgreSQL) is held from reading
/// what is applied until the migrator is done, so when several nodes start
/// at once only the one that applied a migration reports it.
pub(crate) async fn run(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Vec<AppliedMigration>, StoreError> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    let mut connection = pool.acquire().await?;
    let result = async {
        // The lock is reentrant, so the migrator's own lock inside
        // `run_direct` nests within this one.
        connection.lock().await?;
        connection.ensure_migrations_table().await?;
        let before: HashSet<i64> = connection
            .list_applied_migrations()
            .await?
            .into_iter()
            .map(|applied| applied.version)
            .collect();
        migrator.run_direct(&mut *connection).await?;
        connection.unlock().await?;
        Ok::<_, StoreError>(before)
    }
    .await;
    let before = match result {
        Ok(before) => before,
        Err(error) => {
            // The connection may still hold the lock; closing it releases
            // the lock rather than handing it to the pool.
            connection.close_on_drop();
            return Err(error);
        }
    };
    Ok(migrator
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .filter(|migration| !before.contains(&migration.version))
        .map(|migration| AppliedMigration {
            version: migration.version,
            description: migration.description.to_string(),
        })
        .collect())
}
