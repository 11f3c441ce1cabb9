//! What a user's `connect` needs from the store, read in one statement:
//! whether the user is banned from the whole app, whom they block, and how
//! many messages they have not read.
//!
//! A connect in an app with a persisted namespace used to read these with
//! three queries (each a round trip to the SQLite worker thread or to
//! PostgreSQL), which halved the connect rate; one statement keeps the
//! connect a single round trip.

use crate::reads::MAX_UNREAD_CHANNELS;
use crate::sql::connect_profile as sql;
use crate::{Store, StoreError, Timestamp};

/// A user's standing in an app when they connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProfile {
    /// An app-wide ban is in force (a ban of one channel does not count).
    pub banned: bool,
    /// The users this user blocked, in no particular order.
    pub blocks: Vec<String>,
    /// The total of the user's unread counts ([`Store::unread`] summed, over
    /// the same at most [`MAX_UNREAD_CHANNELS`] channels).
    pub unread: u64,
}

impl Store {
    /// The app-wide ban, the block list and the unread total of `user`, in
    /// one statement.
    pub async fn connect_profile(
        &self,
        app: &str,
        user: &str,
    ) -> Result<ConnectProfile, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::connect_profile(
            &mut connection,
            app,
            user,
            Timestamp::now(),
            MAX_UNREAD_CHANNELS,
        )
        .await
    }
}
