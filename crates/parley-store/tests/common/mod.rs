//! What every store test shares: a fresh database per test on each backend,
//! a readable message encoder, and the macro that runs one test body on
//! SQLite and on PostgreSQL.
//!
//! PostgreSQL is reached at `PARLEY_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1`); each test creates its own database
//! there through the `postgres` database and drops it afterwards, so tests
//! run in parallel.

#![allow(dead_code)] // Each test file uses its own part of this module.

pub mod tmpfs;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, PublicationKind};
use parley_store::{
    Database, Message, MessageEdit, MessageEventEncoder, MessageId, NewMessage, ReactionEvent,
    Sent, Store, StoreError, StoreOptions,
};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Runs each listed `async fn(TestDb)` once on SQLite and once on
/// PostgreSQL, as `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! store_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::common::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::common::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

/// The app most tests use.
pub const APP: &str = "app1";

/// A database for one test: a SQLite file in a temporary directory, or a
/// PostgreSQL database created for the test and dropped with this value.
pub struct TestDb {
    pub database: Database,
    _directory: Option<tempfile::TempDir>,
    postgres: Option<PostgresDatabase>,
}

impl TestDb {
    /// A SQLite file in a fresh directory.
    pub async fn sqlite() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path: PathBuf = directory.path().join("data").join("parley.db");
        Self {
            database: Database::Sqlite { path },
            _directory: Some(directory),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        let postgres = PostgresDatabase::create().await;
        Self {
            database: Database::Postgres {
                url: postgres.url(),
            },
            _directory: None,
            postgres: Some(postgres),
        }
    }

    /// The database as a URL, for a child process.
    pub fn url(&self) -> String {
        match &self.database {
            Database::Sqlite { path } => format!("sqlite://{}", path.display()),
            Database::Postgres { url } => url.clone(),
        }
    }

    /// Options for this database with the store's defaults.
    pub fn options(&self) -> StoreOptions {
        StoreOptions::new(self.database.clone())
    }

    /// Opens a store on this database with the [`TextEncoder`].
    pub async fn open(&self) -> Store {
        open(self.options()).await
    }
}

/// Opens a store with the [`TextEncoder`].
pub async fn open(options: StoreOptions) -> Store {
    Store::open(options, Arc::new(TextEncoder))
        .await
        .expect("the store opens")
}

/// A PostgreSQL database that exists for one test.
struct PostgresDatabase {
    server: String,
    name: String,
}

impl PostgresDatabase {
    fn server() -> String {
        std::env::var("PARLEY_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1".to_owned())
    }

    async fn admin(server: &str) -> PgConnection {
        PgConnection::connect(&format!("{server}/postgres"))
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is not reachable at {server} ({error}); start it (for example \
                     `pg_ctlcluster --skip-systemctl-redirect 15 main start`) or set \
                     PARLEY_TEST_POSTGRES"
                )
            })
    }

    async fn create() -> Self {
        let server = Self::server();
        let name = format!("parley_test_{:016x}", rand::random::<u64>());
        let mut admin = Self::admin(&server).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("a test database is created");
        let _ = admin.close().await;
        Self { server, name }
    }

    fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for PostgresDatabase {
    /// Drops the database, also after a failed test. `Drop` cannot await, so
    /// a short-lived thread with its own runtime does it.
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            runtime.block_on(async {
                let mut admin = Self::admin(&server).await;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// Encodes message events as readable text, so tests can check that the
/// stored payload is exactly the encoder's output for the stored message.
pub struct TextEncoder;

impl MessageEventEncoder for TextEncoder {
    fn encode(&self, kind: PublicationKind, message: &Message) -> Bytes {
        Bytes::from(encode(kind, message))
    }

    fn encode_reaction(&self, kind: PublicationKind, reaction: &ReactionEvent) -> Bytes {
        Bytes::from(format!(
            "{kind} emoji={} user={} count={}",
            reaction.emoji, reaction.user, reaction.count
        ))
    }
}

/// What [`TextEncoder`] makes of an event.
pub fn encode(kind: PublicationKind, message: &Message) -> String {
    format!(
        "{kind} id={} offset={} author={} name={:?} avatar={:?} text={:?} deleted={}",
        message.id,
        message.offset,
        message.author,
        message.author_name,
        message.author_avatar,
        message.text,
        message.is_deleted()
    )
}

/// A channel name that is valid.
pub fn channel(name: &str) -> ChannelName {
    ChannelName::new(name).expect("a valid channel name")
}

/// A plain message from `author` in `channel` of [`APP`].
pub fn new_message(channel_name: &str, author: &str, text: &str) -> NewMessage {
    NewMessage {
        app: Arc::from(APP),
        channel: channel(channel_name),
        author: author.to_owned(),
        author_name: None,
        author_avatar: None,
        text: text.to_owned(),
        reply_to: None,
        client_msg_id: None,
        meta: None,
        mentions: Vec::new(),
        shadow: false,
        attachments: Vec::new(),
        room: false,
    }
}

/// Sends a message and returns what the store answered.
pub async fn send(store: &Store, channel_name: &str, author: &str, text: &str) -> Sent {
    store
        .send_message(new_message(channel_name, author, text))
        .await
        .expect("the message is sent")
}

/// Tries to edit `message` as `editor`, who is not its author, and fails
/// the test unless the store refuses it as forbidden.
pub async fn assert_foreign_edit_refused(store: &Store, message: MessageId, editor: String) {
    let edit = MessageEdit {
        app: Arc::from(APP),
        id: message,
        editor,
        text: "pwned".into(),
    };
    match store.edit_message(edit).await {
        Err(StoreError::Forbidden(_)) => {}
        other => panic!("a foreign edit was not refused: {other:?}"),
    }
}

/// The id of a sent message.
pub fn id(sent: &Sent) -> MessageId {
    sent.message.id
}
