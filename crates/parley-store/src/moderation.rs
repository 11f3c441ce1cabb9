//! Moderation state: restrictions (mutes and bans) of users, in one channel
//! or in the whole app, with an optional expiry, and each user's block list.
//!
//! These writes are rare, single statements that touch no stream, so they
//! go straight to the pool instead of through the writer's group commit.
//! Reads filter expired restrictions out; an expired row stays until the
//! restriction is set or lifted again.

use std::fmt;
use std::str::FromStr;

use parley_core::ChannelName;
use sqlx::AnyConnection;

use crate::commands::{Command, Context};
use crate::event::{self, Turn};
use crate::messages::MessageEvent;
use crate::sql::moderation as sql;
use crate::sql::{messages, streams, uploads};
use crate::{Changed, Message, MessageId, Store, StoreError, Timestamp};

/// The most users one user may block.
pub const MAX_BLOCKS: usize = 1000;

/// What a restriction forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestrictionKind {
    /// The user may not send messages.
    Mute,
    /// The user may neither subscribe nor send.
    Ban,
    /// The user's messages are stored and shown to the user only.
    ShadowMute,
}

impl RestrictionKind {
    /// The kind's name, as stored and shown: `mute` or `ban`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mute => "mute",
            Self::Ban => "ban",
            Self::ShadowMute => "shadow_mute",
        }
    }
}

impl fmt::Display for RestrictionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RestrictionKind {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        match text {
            "mute" => Ok(Self::Mute),
            "ban" => Ok(Self::Ban),
            "shadow_mute" => Ok(Self::ShadowMute),
            other => Err(StoreError::corrupt(format!(
                "unknown restriction kind {other:?}"
            ))),
        }
    }
}

/// One restriction of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// The restricted user.
    pub user: String,
    /// What is forbidden.
    pub kind: RestrictionKind,
    /// The channel it applies to; `None` for the whole app.
    pub channel: Option<ChannelName>,
    /// When it ends by itself; `None` for no timeout.
    pub expires_at: Option<Timestamp>,
    /// The moderator (or `system`) who set it.
    pub created_by: String,
    /// When it was set.
    pub created_at: Timestamp,
}

/// A moderator hides a message (shown to moderators only) or shows it
/// again.
#[derive(Debug, Clone)]
pub struct MessageHide {
    /// The app the message belongs to.
    pub app: std::sync::Arc<str>,
    /// The message.
    pub id: MessageId,
    /// Hide the message or show it again.
    pub visibility: Visibility,
}

/// Whether a moderator hides a message or shows it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Shown to moderators only.
    Hidden,
    /// Shown to everyone.
    Shown,
}

impl Visibility {
    /// Whether this is [`Visibility::Hidden`].
    pub fn is_hidden(self) -> bool {
        self == Visibility::Hidden
    }
}

impl Store {
    /// Hides a message or shows it again, and appends `message_updated`
    /// with the message as it is now. Its earlier events are encoded again
    /// from the new state, so history and recovery show what live
    /// subscribers see. Deleted messages are not found; hiding a hidden
    /// message (or showing a visible one) is invalid input.
    pub async fn hide_message(&self, hide: MessageHide) -> Result<Changed, StoreError> {
        self.submit(|reply| Command::Hide {
            hide,
            channel: None,
            reply,
        })
        .await
    }

    /// Sets a restriction, replacing the same kind of restriction of the same
    /// user in the same scope.
    pub async fn restrict(&self, app: &str, restriction: &Restriction) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::upsert_restriction(&mut connection, app, restriction).await
    }

    /// Lifts a restriction. Returns whether one was in force.
    pub async fn lift(
        &self,
        app: &str,
        user: &str,
        kind: RestrictionKind,
        channel: Option<&ChannelName>,
    ) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::delete_restriction(&mut connection, app, user, kind, channel, Timestamp::now()).await
    }

    /// The restrictions of `user` in force now that apply in `channel`: those
    /// of the channel and those of the whole app. Without a channel, the
    /// app-wide ones only.
    pub async fn restrictions_of(
        &self,
        app: &str,
        user: &str,
        channel: Option<&ChannelName>,
    ) -> Result<Vec<Restriction>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::restrictions_of(&mut connection, app, user, channel, Timestamp::now()).await
    }

    /// Every restriction of the app in force now, optionally of one user,
    /// newest first, at most `limit`.
    pub async fn restrictions(
        &self,
        app: &str,
        user: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Restriction>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::restrictions(&mut connection, app, user, Timestamp::now(), limit).await
    }

    /// Adds `blocked` to the block list of `blocker`. Blocking again is
    /// harmless; past [`MAX_BLOCKS`] it is refused.
    pub async fn block(&self, app: &str, blocker: &str, blocked: &str) -> Result<(), StoreError> {
        if blocker == blocked {
            return Err(StoreError::InvalidInput(
                "a user cannot block themselves".into(),
            ));
        }
        let mut connection = self.pool().acquire().await?;
        if sql::block_count(&mut connection, app, blocker).await? >= MAX_BLOCKS {
            return Err(StoreError::InvalidInput(format!(
                "a user may block at most {MAX_BLOCKS} users"
            )));
        }
        sql::insert_block(&mut connection, app, blocker, blocked, Timestamp::now()).await
    }

    /// Removes `blocked` from the block list of `blocker`. Returns whether it
    /// was there.
    pub async fn unblock(
        &self,
        app: &str,
        blocker: &str,
        blocked: &str,
    ) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::delete_block(&mut connection, app, blocker, blocked).await
    }

    /// The users `blocker` blocked, sorted by id.
    pub async fn blocks(&self, app: &str, blocker: &str) -> Result<Vec<String>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::blocks(&mut connection, app, blocker).await
    }
}

/// Runs a [`MessageHide`] inside the writer's transaction.
pub(crate) async fn hide_message(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    hide: &MessageHide,
    channel: &ChannelName,
) -> Result<Changed, StoreError> {
    let turn = Turn::take(connection, context, &hide.app, channel).await?;
    let mut message = messages::find_live(connection, &hide.app, hide.id).await?;
    if message.hidden == hide.visibility.is_hidden() {
        return Err(StoreError::InvalidInput(if hide.visibility.is_hidden() {
            "the message is hidden already".into()
        } else {
            "the message is not hidden".into()
        }));
    }
    uploads::fill(connection, std::slice::from_mut(&mut message)).await?;
    sql::set_hidden(connection, message.id, hide.visibility.is_hidden()).await?;
    let counted = message.is_counted();
    message.hidden = hide.visibility.is_hidden();
    if counted != message.is_counted() {
        let change = if counted { -1 } else { 1 };
        streams::count_live(connection, &hide.app, channel, change).await?;
    }
    crate::messages::redact(connection, context, &hide.app, &message).await?;
    let event = MessageEvent {
        kind: Message::UPDATED,
        message: &message,
    };
    let publication = event::append(connection, context, turn, &event).await?;
    Ok(Changed {
        message,
        publication,
    })
}
