//! Rooms: channels of members-only namespaces (`members_only = true`), with
//! members and roles. Creating rooms, adding and removing members, a user's
//! room list, and the membership gate every read and write of a room goes
//! through.
//!
//! A membership change commits with its `member_added` or `member_removed`
//! event in the room's stream. Each user it is about (other than the one
//! who acted) also gets the event in their inbox, the personal channel
//! `<namespace>:inbox#<user>` of the room's namespace, so a user learns of a
//! room they were added to, and recovers the notice like any other event.
//! The connections of a removed user stop receiving the room at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use parley_core::{ChannelName, EventKind};
use parley_store::{
    MembersAction, MembersChange, MembersChanged, MembersEvent, NewRoom, RoomCreated, RoomKind,
    RoomMember, RoomPage, RoomRole, StoreError,
};
use serde::Deserialize;

use super::{Chat, ChatError, chat_namespace};
use crate::cluster::control::ControlAction;
use crate::json::rooms::members_event_data;
use crate::state::AppContext;

/// The most users one request may name.
pub const MAX_USERS_PER_REQUEST: usize = 100;

/// The refusal of everyone who is not a member of a room.
fn not_member() -> ChatError {
    ChatError::Domain(parley_core::Error::PermissionDenied(
        "not a member of this room",
    ))
}

fn denied(why: &'static str) -> ChatError {
    ChatError::Domain(parley_core::Error::PermissionDenied(why))
}

/// Whether the channel is a room's: a channel of a members-only namespace
/// that is not a personal channel.
pub fn is_room_channel(app: &AppContext, channel: &ChannelName) -> bool {
    !channel.is_personal()
        && chat_namespace(app, channel).is_ok_and(|(_, config)| config.members_only)
}

/// A user's role in a room: `None` when they are not a member, or the
/// channel is no room. Room owners and moderators moderate their room, as
/// token roles `moderator` and `admin` moderate everywhere.
pub async fn room_role(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<RoomRole>, ChatError> {
    if !is_room_channel(app, channel) {
        return Ok(None);
    }
    Ok(chat.store().room_role(&app.app.id, channel, user).await?)
}

/// The membership gate: passes every channel that is not a room's, and a
/// room's only for its members (with their role). Subscribing, reading
/// history and messages, sending, publishing, reading and pinning all go
/// through it.
pub async fn check_member(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    user: &str,
) -> Result<Option<RoomRole>, ChatError> {
    if !is_room_channel(app, channel) {
        return Ok(None);
    }
    match chat.store().room_role(&app.app.id, channel, user).await? {
        Some(role) => Ok(Some(role)),
        None => Err(not_member()),
    }
}

/// A room to create, as callers write it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// `direct` or `group`.
    pub kind: String,
    /// The room's namespace, when the server names the channel.
    pub namespace: Option<String>,
    /// The room's channel, for a group room named by the caller.
    pub channel: Option<String>,
    /// The users to add besides the creator (a direct room: the other user;
    /// from the server API: both users).
    #[serde(default)]
    pub members: Vec<String>,
    /// Users to add as moderators of a group room.
    #[serde(default)]
    pub moderators: Vec<String>,
    /// From the server API: the owner of a group room.
    pub owner: Option<String>,
}

fn check_user(user: &str) -> Result<(), ChatError> {
    if user.is_empty() || user.len() > 255 || user.contains(['\n', '\r']) {
        return Err(ChatError::Invalid(format!("{user:?} is not a user id")));
    }
    Ok(())
}

fn check_users<'a>(users: impl IntoIterator<Item = &'a String>) -> Result<(), ChatError> {
    let mut count = 0;
    for user in users {
        check_user(user)?;
        count += 1;
    }
    if count > MAX_USERS_PER_REQUEST {
        return Err(ChatError::Invalid(format!(
            "name at most {MAX_USERS_PER_REQUEST} users"
        )));
    }
    Ok(())
}

/// A room's channel: the caller's, or a fresh name in `namespace`.
fn room_channel(app: &AppContext, request: &CreateRequest) -> Result<ChannelName, ChatError> {
    let channel = match (&request.channel, &request.namespace) {
        (Some(name), None) => ChannelName::new(name).map_err(parley_core::Error::from)?,
        (None, Some(namespace)) => {
            let name = format!("{namespace}:{:016x}", rand::random::<u64>());
            ChannelName::new(&name).map_err(parley_core::Error::from)?
        }
        _ => {
            return Err(ChatError::Invalid(
                "give the room's channel or its namespace, not both".into(),
            ));
        }
    };
    if !is_room_channel(app, &channel) {
        return Err(ChatError::Invalid(format!(
            "{channel} is not in a members_only namespace (or is a personal channel)"
        )));
    }
    Ok(channel)
}

/// Creates a room. `creator` is the user who asks (`None` from the server
/// API). A direct room that the pair has already is returned as it is.
pub async fn create(
    chat: &Chat,
    app: &AppContext,
    creator: Option<&str>,
    request: CreateRequest,
) -> Result<RoomCreated, ChatError> {
    let kind: RoomKind = request.kind.parse()?;
    let channel = room_channel(app, &request)?;
    let (_, config) = chat_namespace(app, &channel)?;
    if creator.is_some() && !config.client_rooms {
        return Err(denied("rooms here are created through the server API"));
    }
    if creator.is_some() && request.owner.is_some() {
        return Err(ChatError::Invalid(
            "users own the rooms they create: drop owner".into(),
        ));
    }
    check_users(request.members.iter().chain(&request.moderators))?;
    let namespace = channel.namespace().unwrap_or_default().to_owned();
    let (members, direct_key) = match kind {
        RoomKind::Direct => {
            if request.channel.is_some() || !request.moderators.is_empty() {
                return Err(ChatError::Invalid(
                    "a direct room takes a namespace and members only".into(),
                ));
            }
            let pair: BTreeSet<&str> = request
                .members
                .iter()
                .map(String::as_str)
                .chain(creator)
                .collect();
            if pair.len() != 2 || request.members.len() + usize::from(creator.is_some()) != 2 {
                return Err(ChatError::Invalid(
                    "a direct room has exactly two different users".into(),
                ));
            }
            let key = format!(
                "{namespace}\n{}",
                pair.iter().copied().collect::<Vec<_>>().join("\n")
            );
            let members = pair
                .into_iter()
                .map(|user| (user.to_owned(), RoomRole::Member))
                .collect();
            (members, Some(key))
        }
        RoomKind::Group => {
            let owner = creator.map(str::to_owned).or(request.owner.clone());
            if let Some(owner) = &owner {
                check_user(owner)?;
            }
            let mut members: Vec<(String, RoomRole)> = Vec::new();
            let mut push = |user: &str, role| {
                if !members.iter().any(|(known, _)| known == user) {
                    members.push((user.to_owned(), role));
                }
            };
            if let Some(owner) = &owner {
                push(owner, RoomRole::Owner);
            }
            for user in &request.moderators {
                push(user, RoomRole::Moderator);
            }
            for user in &request.members {
                push(user, RoomRole::Member);
            }
            if members.is_empty() {
                return Err(ChatError::Invalid("a room needs members".into()));
            }
            (members, None)
        }
    };
    let by = creator.unwrap_or("system").to_owned();
    let created = chat
        .store()
        .create_room(NewRoom {
            app: app.app.id.clone(),
            channel,
            kind,
            direct_key,
            creator: by.clone(),
            members,
            encode: Arc::new(members_event_data),
        })
        .await?;
    if created.created {
        let event = MembersEvent {
            room: created.room.clone(),
            members: created.members.clone(),
            by: by.clone(),
        };
        notify_inboxes(chat, app, &event, MembersEvent::ADDED).await;
    }
    Ok(created)
}

/// Adds or removes (`action`) members of a group room. `actor` is the user who
/// asks, with whether their token makes them a moderator (`None` from the
/// server API). Owners and moderators add and remove; only an owner (or a
/// token moderator) adds moderators or removes the owner or a moderator;
/// any member may remove themselves (leave).
pub async fn change_members(
    chat: &Chat,
    app: &AppContext,
    actor: Option<(&str, bool)>,
    channel: &ChannelName,
    users: Vec<String>,
    role: Option<&str>,
    action: MembersAction,
) -> Result<MembersChanged, ChatError> {
    if !is_room_channel(app, channel) {
        return Err(ChatError::Store(StoreError::NotFound("room")));
    }
    check_users(&users)?;
    let role: RoomRole = match role {
        None => RoomRole::Member,
        Some(role) => role.parse()?,
    };
    if role == RoomRole::Owner {
        return Err(ChatError::Invalid(
            "a room has one owner: add members or moderators".into(),
        ));
    }
    if let Some((user, false)) = actor {
        let mine = check_member(chat, app, channel, user)
            .await?
            .ok_or_else(not_member)?;
        let leaving = action == MembersAction::Remove && users.iter().all(|named| named == user);
        if !leaving {
            if !mine.moderates() {
                return Err(denied(
                    "only the room's owner and moderators change members",
                ));
            }
            let needs_owner = if action == MembersAction::Add {
                role.moderates()
            } else {
                let mut needs = false;
                for named in &users {
                    let theirs = chat.store().room_role(&app.app.id, channel, named).await?;
                    needs |= theirs.is_some_and(RoomRole::moderates);
                }
                needs
            };
            if needs_owner && mine != RoomRole::Owner {
                return Err(denied("only the room's owner adds or removes moderators"));
            }
        }
    }
    let by = actor.map_or("system", |(user, _)| user).to_owned();
    let changed = chat
        .store()
        .change_members(MembersChange {
            app: app.app.id.clone(),
            channel: channel.clone(),
            members: users.into_iter().map(|user| (user, role)).collect(),
            by: by.clone(),
            action,
            encode: Arc::new(members_event_data),
        })
        .await?;
    let event = MembersEvent {
        room: changed.room.clone(),
        members: changed.members.clone(),
        by,
    };
    let kind = if action == MembersAction::Add {
        MembersEvent::ADDED
    } else {
        MembersEvent::REMOVED
    };
    notify_inboxes(chat, app, &event, kind).await;
    if action == MembersAction::Remove {
        for member in &changed.members {
            let action = ControlAction::EndSubscription {
                user: member.user.to_string(),
                channel: channel.to_string(),
                notice: None,
            };
            chat.control().act(app, action).await;
        }
    }
    Ok(changed)
}

/// The inbox of `user` in `namespace`: `<namespace>:inbox#<user>`.
pub fn inbox(namespace: &str, user: &str) -> Option<ChannelName> {
    let name = if namespace.is_empty() {
        format!("inbox#{user}")
    } else {
        format!("{namespace}:inbox#{user}")
    };
    ChannelName::new(&name).ok()
}

/// Appends the event to the inbox of each member it is about, other than
/// the one who acted. The membership change is committed already; a failed
/// notice is logged, and the room still shows in the user's `rooms`.
async fn notify_inboxes(chat: &Chat, app: &AppContext, event: &MembersEvent, kind: EventKind) {
    let namespace = event.room.channel.namespace().unwrap_or_default();
    let data = members_event_data(event);
    for member in event
        .members
        .iter()
        .filter(|member| member.user != event.by)
    {
        let Some(channel) = inbox(namespace, &member.user) else {
            continue;
        };
        if let Err(error) = chat
            .store()
            .append_event(
                app.app.id.clone(),
                channel,
                kind.clone().into(),
                data.clone(),
            )
            .await
        {
            tracing::warn!(%error, user = %member.user, "room notice to the inbox failed");
        }
    }
}

/// A room's members; `None` when the channel is no room, or no such room
/// was created.
pub async fn members(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
) -> Result<Option<Vec<RoomMember>>, ChatError> {
    if !is_room_channel(app, channel) {
        return Ok(None);
    }
    let members = chat.store().room_members(&app.app.id, channel).await?;
    // A room always has members; none may mean no room at all.
    if members.is_empty()
        && chat
            .store()
            .room(&app.app.id, channel)
            .await
            .ok()
            .flatten()
            .is_none()
    {
        return Ok(None);
    }
    Ok(Some(members))
}

/// One page of a user's rooms.
pub async fn rooms(
    chat: &Chat,
    app: &AppContext,
    user: &str,
    after: Option<&str>,
    limit: Option<usize>,
) -> Result<RoomPage, ChatError> {
    let limit = super::page_limit(limit)?;
    Ok(chat
        .store()
        .rooms_of(&app.app.id, user, after, limit)
        .await?)
}
