//! What a user's `connect` needs from the store, read in one statement:
//! the user's mutes and bans in force (whether they are banned from the
//! whole app, and what the server checks on each send and subscribe while
//! they are connected), whom they block, and how many messages they have
//! not read.
//!
//! A connect in an app with a persisted namespace used to read these with
//! three queries (each a round trip to the SQLite worker thread or to
//! PostgreSQL), which halved the connect rate; one statement keeps the
//! connect a single round trip.

use parley_core::ChannelName;

use crate::reads::MAX_UNREAD_CHANNELS;
use crate::sql::connect_profile as sql;
use crate::{Restriction, RestrictionKind, Store, StoreError, Timestamp};

/// A user's standing in an app when they connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProfile {
    /// An app-wide ban is in force (a ban of one channel does not count).
    pub banned: bool,
    /// Every mute and ban of the user in force, in the whole app or in a
    /// channel, at most [`MAX_RESTRICTIONS_READ`]; `None` when the user has
    /// more (then each check reads the store).
    pub restrictions: Option<Vec<RestrictionInForce>>,
    /// The users this user blocked, in no particular order.
    pub blocks: Vec<String>,
    /// The total of the user's unread counts ([`Store::unread`] summed, over
    /// the same at most [`MAX_UNREAD_CHANNELS`] channels).
    pub unread: u64,
}

/// How many restrictions of one user a connect reads at most.
pub const MAX_RESTRICTIONS_READ: usize = 256;

/// A mute or ban in force, as checks need it: what, where and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionInForce {
    /// What is forbidden.
    pub kind: RestrictionKind,
    /// The channel it applies to; `None` for the whole app.
    pub channel: Option<ChannelName>,
    /// When it ends by itself; `None` for no timeout.
    pub expires_at: Option<Timestamp>,
}

impl RestrictionInForce {
    /// Whether it is in force at `now` where `channel` is concerned (an
    /// app-wide one is in force in every channel).
    pub fn applies(&self, channel: Option<&ChannelName>, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|end| end > now)
            && (self.channel.is_none() || self.channel.as_ref() == channel)
    }
}

impl From<&Restriction> for RestrictionInForce {
    fn from(restriction: &Restriction) -> Self {
        Self {
            kind: restriction.kind,
            channel: restriction.channel.clone(),
            expires_at: restriction.expires_at,
        }
    }
}

impl Store {
    /// The restrictions in force, the block list and the unread total of
    /// `user`, in one statement.
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
            MAX_RESTRICTIONS_READ,
        )
        .await
    }
}
