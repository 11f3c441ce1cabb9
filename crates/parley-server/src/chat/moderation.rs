//! Moderation rules shared by the native protocol and the HTTP API: who is
//! a moderator, mutes and bans (with their checks on send, subscribe and
//! connect, and the live enforcement of a ban), and block lists; `admit`
//! reads what `connect` needs (ban, block list, unread total) at once.

use std::sync::Arc;
use std::time::Duration;

use parley_core::ChannelName;
pub use parley_core::Viewer;
use parley_store::{
    MAX_RESTRICTIONS_READ, Message, MessageHide, Restriction, RestrictionInForce, RestrictionKind,
    RoomRole, Timestamp, Visibility,
};

use super::{Actor, Chat, ChatError};
use crate::cluster::control::{ControlAction, OtherNodes, SharedRestriction};
use crate::state::AppContext;

/// The longest restriction with a timeout: about ten years.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Whether `actor` moderates `channel` (or the whole app, without one).
///
/// The one place that decides it: the token's roles (`moderator` or
/// `admin`, carried in [`Actor::moderator`]) moderate everywhere; a room's
/// owners and moderators ([`RoomRole::moderates`]) moderate their room, and
/// only it.
pub async fn is_moderator(
    chat: &Chat,
    app: &AppContext,
    channel: Option<&ChannelName>,
    actor: &Actor,
) -> Result<bool, ChatError> {
    if actor.moderator {
        return Ok(true);
    }
    let Some(channel) = channel else {
        return Ok(false);
    };
    if actor.user.is_empty() {
        return Ok(false);
    }
    Ok(super::rooms::room_role(chat, app, channel, &actor.user)
        .await?
        .is_some_and(RoomRole::moderates))
}

/// Refuses a moderation action by someone who does not moderate `channel`.
pub async fn require_moderator(
    chat: &Chat,
    app: &AppContext,
    channel: Option<&ChannelName>,
    actor: &Actor,
) -> Result<(), ChatError> {
    if is_moderator(chat, app, channel, actor).await? {
        Ok(())
    } else {
        Err(ChatError::Domain(parley_core::Error::PermissionDenied(
            "moderators only",
        )))
    }
}

/// How a message that may be sent is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendMode {
    /// The author is shadow-muted: only they will see the message.
    pub shadow: bool,
}

/// Refuses a message from a user muted or banned in the channel or in the
/// whole app, and tells whether a shadow mute applies. Moderators and the
/// server API are never refused.
pub async fn check_send(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
) -> Result<SendMode, ChatError> {
    if !actor.limited || is_moderator(chat, app, Some(channel), actor).await? {
        return Ok(SendMode::default());
    }
    let restrictions = in_force(chat, app, &actor.user, channel).await?;
    if restrictions.iter().any(|r| r.kind == RestrictionKind::Ban) {
        return Err(ChatError::Banned);
    }
    let mutes = restrictions
        .iter()
        .filter(|r| r.kind == RestrictionKind::Mute);
    let mut muted = false;
    let mut until = Some(Timestamp::from_millis(0));
    for mute in mutes {
        muted = true;
        until = match (until, mute.expires_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    if muted {
        let left = until.map(|until| {
            Duration::from_millis(
                u64::try_from(until.as_millis() - Timestamp::now().as_millis()).unwrap_or(0),
            )
        });
        return Err(ChatError::Muted(left));
    }
    Ok(SendMode {
        shadow: restrictions
            .iter()
            .any(|r| r.kind == RestrictionKind::ShadowMute),
    })
}

/// Refuses a subscription of a banned user to a persisted channel (bans are
/// kept in the store, so they apply to the namespaces it serves).
pub async fn check_subscribe(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    user: &str,
) -> Result<(), ChatError> {
    if user.is_empty() || super::chat_namespace(app, channel).is_err() {
        return Ok(());
    }
    let restrictions = in_force(chat, app, user, channel).await?;
    if restrictions.iter().any(|r| r.kind == RestrictionKind::Ban) {
        return Err(ChatError::Banned);
    }
    Ok(())
}

/// The user's mutes and bans in force in `channel` (its own and the whole
/// app's): from the app's [`RestrictionBook`](super::restriction_book::RestrictionBook)
/// when it holds the user, else from the store.
async fn in_force(
    chat: &Chat,
    app: &AppContext,
    user: &str,
    channel: &ChannelName,
) -> Result<Vec<RestrictionInForce>, ChatError> {
    let now = Timestamp::now();
    if let Some(known) = app.restrictions.get(user) {
        return Ok(known
            .iter()
            .filter(|restriction| restriction.applies(Some(channel), now))
            .cloned()
            .collect());
    }
    Ok(chat
        .store()
        .restrictions_of(&app.app.id, user, Some(channel))
        .await?
        .iter()
        .map(RestrictionInForce::from)
        .collect())
}

/// Whether the app has a persisted namespace, where moderation applies;
/// other apps skip its store reads on connect.
pub fn is_moderated(app: &AppContext) -> bool {
    app.config
        .namespaces
        .values()
        .any(|namespace| namespace.persist)
}

/// Admits a signed-in user at `connect` in an app with a persisted
/// namespace: refuses a user banned from the whole app, loads the user's
/// block list into the hub's `BlockBook`, and returns the user's unread
/// total for the reply, all from one store read
/// ([`Store::connect_profile`](parley_store::Store::connect_profile)).
/// `None` (and no read) for an anonymous user or an app that persists
/// nothing.
pub async fn admit(
    chat: &Chat,
    app: &AppContext,
    user: &Arc<str>,
) -> Result<Option<u64>, ChatError> {
    if user.is_empty() || !is_moderated(app) {
        return Ok(None);
    }
    let start = app.restrictions.read_start();
    let profile = chat.store().connect_profile(&app.app.id, user).await?;
    app.restrictions
        .loaded(user.clone(), profile.restrictions, start);
    if profile.banned {
        return Err(ChatError::Banned);
    }
    let blocked = profile.blocks.into_iter().map(Arc::from).collect();
    app.app.hub.blocks().set(user.clone(), blocked);
    Ok(Some(profile.unread))
}

/// A mute or ban to set, as callers give it.
#[derive(Debug, Clone)]
pub struct RestrictRequest {
    /// The user to restrict.
    pub user: String,
    /// The channel; `None` for the whole app.
    pub channel: Option<ChannelName>,
    /// How long; `None` until lifted.
    pub duration: Option<Duration>,
}

/// Parses a duration written as `"10m"`, `"1h 30m"` or `"45s"`.
pub fn parse_duration(text: &str) -> Result<Duration, ChatError> {
    let duration = humantime::parse_duration(text).map_err(|error| {
        ChatError::Invalid(format!(
            "duration {text:?}: {error} (write it as 10m, 2h, 7d)"
        ))
    })?;
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(ChatError::Invalid(
            "duration must be above zero and at most ten years".into(),
        ));
    }
    Ok(duration)
}

/// Sets a mute or a ban. A ban takes effect at once: in a channel, the
/// user's connections are unsubscribed from it (native clients get an
/// `unsubscribed` push); in the whole app, they are disconnected with
/// [`Disconnect::Forced`] (close code 4003).
pub async fn restrict(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    kind: RestrictionKind,
    request: RestrictRequest,
) -> Result<Restricted, ChatError> {
    require_moderator(chat, app, request.channel.as_ref(), actor).await?;
    if request.user.is_empty() {
        return Err(ChatError::Invalid("user is empty".into()));
    }
    if let Some(channel) = &request.channel {
        super::chat_namespace(app, channel)?;
    }
    let now = Timestamp::now();
    let restriction = Restriction {
        user: request.user,
        kind,
        channel: request.channel,
        expires_at: request.duration.map(|duration| {
            Timestamp::from_millis(
                now.as_millis() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2),
            )
        }),
        created_by: actor.user.to_string(),
        created_at: now,
    };
    chat.store().restrict(&app.app.id, &restriction).await?;
    share_restrictions(chat, app, &restriction.user).await;
    let other_nodes = if kind == RestrictionKind::Ban {
        enforce_ban(chat, app, &restriction.user, restriction.channel.as_ref()).await
    } else {
        OtherNodes::None
    };
    Ok(Restricted {
        restriction,
        other_nodes,
    })
}

/// A restriction set, and whether its enforcement reached the other nodes.
#[derive(Debug, Clone)]
pub struct Restricted {
    /// The restriction, as stored.
    pub restriction: Restriction,
    /// For a ban in a cluster: whether the other nodes were told to
    /// enforce it.
    pub other_nodes: OtherNodes,
}

/// The mutes and bans in force in the app (of `user`, or everyone's), for
/// a moderator of the whole app.
pub async fn restrictions(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    user: Option<&str>,
) -> Result<Vec<Restriction>, ChatError> {
    require_moderator(chat, app, None, actor).await?;
    Ok(chat
        .store()
        .restrictions(&app.app.id, user, parley_store::MAX_PAGE_SIZE * 10)
        .await?)
}

/// Lifts a mute or a ban; returns whether one was in force.
pub async fn lift(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    kind: RestrictionKind,
    user: &str,
    channel: Option<&ChannelName>,
) -> Result<bool, ChatError> {
    require_moderator(chat, app, channel, actor).await?;
    let lifted = chat.store().lift(&app.app.id, user, kind, channel).await?;
    if lifted {
        share_restrictions(chat, app, user).await;
    }
    Ok(lifted)
}

/// Tells every node's book the user's restrictions after a change (or
/// that they are not known, when the store cannot say).
async fn share_restrictions(chat: &Chat, app: &AppContext, user: &str) {
    let restrictions = match chat
        .store()
        .restrictions(&app.app.id, Some(user), MAX_RESTRICTIONS_READ + 1)
        .await
    {
        Ok(restrictions) if restrictions.len() <= MAX_RESTRICTIONS_READ => {
            Some(restrictions.iter().map(RestrictionInForce::from).collect())
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "cannot read a user's restrictions after a change");
            None
        }
    };
    let action = ControlAction::SetRestrictions {
        user: user.to_owned(),
        restrictions: restrictions.map(|list: Vec<RestrictionInForce>| {
            list.iter().map(SharedRestriction::from).collect()
        }),
    };
    chat.control().act(app, action).await;
}

/// Applies a ban to the user's connections on every node: in a channel,
/// each connection leaves it with an `unsubscribed` push (`banned`); in
/// the whole app, each is closed with [`Disconnect::Forced`](parley_core::Disconnect::Forced).
async fn enforce_ban(
    chat: &Chat,
    app: &AppContext,
    user: &str,
    channel: Option<&ChannelName>,
) -> OtherNodes {
    let action = match channel {
        None => ControlAction::DisconnectUser {
            user: user.to_owned(),
            signed_in: false,
        },
        Some(channel) => ControlAction::EndSubscription {
            user: user.to_owned(),
            channel: channel.to_string(),
            notice: Some("banned".to_owned()),
        },
    };
    chat.control().act(app, action).await.other_nodes
}

/// The users `actor` blocked.
pub async fn blocks(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
) -> Result<Vec<String>, ChatError> {
    Ok(chat.store().blocks(&app.app.id, &actor.user).await?)
}

/// Whether `viewer` sees a message at all: a shadow-muted author's
/// message only they see, and nothing from a user the viewer blocked; the
/// rule of [`Viewer::sees`], which its publications follow live, replayed
/// and in history.
pub fn sees_message(viewer: &Viewer, message: &Message) -> bool {
    let author = message.author.as_str();
    viewer.sees_from(Some(author), message.shadow.then_some(author))
}

/// The viewer for `actor`, with their block list from the store.
pub async fn viewer(
    chat: &Chat,
    app: &AppContext,
    channel: Option<&ChannelName>,
    actor: &Actor,
) -> Result<Viewer, ChatError> {
    let blocked = chat
        .store()
        .blocks(&app.app.id, &actor.user)
        .await?
        .into_iter()
        .map(Arc::from)
        .collect();
    Ok(Viewer {
        user: Some(actor.user.clone()),
        moderator: is_moderator(chat, app, channel, actor).await?,
        blocked,
    })
}

/// Reads the block list of `actor` after a change and puts it in the
/// app's hub on every node, so the fan-out filters what they receive
/// wherever they are connected; returns the list.
async fn share_blocks(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
) -> Result<Vec<String>, ChatError> {
    let blocked = blocks(chat, app, actor).await?;
    if is_moderated(app) {
        let action = ControlAction::SetBlocks {
            user: actor.user.to_string(),
            blocked: blocked.clone(),
        };
        chat.control().act(app, action).await;
    }
    Ok(blocked)
}

/// Adds `user` to the block list of `actor`; returns the list after it.
pub async fn block(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    user: &str,
) -> Result<Vec<String>, ChatError> {
    if user.is_empty() {
        return Err(ChatError::Invalid("user is empty".into()));
    }
    chat.store().block(&app.app.id, &actor.user, user).await?;
    share_blocks(chat, app, actor).await
}

/// Removes `user` from the block list of `actor`; returns the list after
/// it.
pub async fn unblock(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    user: &str,
) -> Result<Vec<String>, ChatError> {
    chat.store().unblock(&app.app.id, &actor.user, user).await?;
    share_blocks(chat, app, actor).await
}

/// Hides a message from everyone but moderators, or shows it again
/// (`visibility`). Subscribers get `message_updated`: with `"status":"hidden"` and
/// no text, so clients remove it, or with the text back.
pub async fn hide(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    id: &str,
    visibility: Visibility,
) -> Result<Message, ChatError> {
    let id = super::parse_id(id)?;
    let message = chat.store().message(&app.app.id, id).await?;
    require_moderator(chat, app, Some(&message.channel), actor).await?;
    let changed = chat
        .store()
        .hide_message(MessageHide {
            app: app.app.id.clone(),
            id,
            visibility,
        })
        .await?;
    Ok(changed.message)
}
