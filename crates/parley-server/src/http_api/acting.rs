//! Who a chat route acts for, for the routes that act for a user: edits
//! and their trail, read marks, pins, threads, block lists and reports.
//!
//! These are the HTTP forms of native methods, so they apply the native
//! method's rules to the user they act for. A user calling with their own
//! token acts as themselves, with their token's roles. A backend (API key)
//! names the user (`user` in the body or query, or the path's `{user}`),
//! and the route then does what that user's own connection, without token
//! roles, would be allowed to do: room membership, a room's roles, the
//! namespace's pin permission and mutes apply. A backend that names no user
//! acts as `system`, trusted, where the native method has a moderator's
//! form (pins, edits of `system`'s own messages, reading pins and threads).

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::{ChannelName, Grant};

use super::ApiError;
use super::extract::Caller;
use crate::chat::{self, Actor, Chat};
use crate::state::AppContext;

/// A JSON body with a status.
pub(super) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A channel name from the path or the body.
pub(super) fn channel(name: &str) -> Result<ChannelName, ApiError> {
    Ok(ChannelName::new(name).map_err(parley_core::Error::from)?)
}

/// The user a backend acts for: subject to the native rules of a user
/// without token roles.
pub(super) fn named_user(user: &str) -> Result<Actor, ApiError> {
    if user.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "user is empty"));
    }
    Ok(Actor {
        user: Arc::from(user),
        profile: Default::default(),
        moderator: false,
        limited: true,
    })
}

/// `system`, as the trusted server API acts: a moderator without limits.
fn system() -> Actor {
    Actor {
        user: Arc::from("system"),
        profile: Default::default(),
        moderator: true,
        limited: false,
    }
}

/// The user a route acts for, where the route needs one: a token's user
/// (who may not name another), or the user a backend names (required).
pub(super) fn acting_user(caller: &Caller, named: Option<&str>) -> Result<Actor, ApiError> {
    match (caller, named) {
        (Caller::User { actor, .. }, None) => Ok(actor.clone()),
        (Caller::User { actor, .. }, Some(user)) if *actor.user == *user => Ok(actor.clone()),
        (Caller::User { .. }, Some(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "users act as themselves: drop user",
        )),
        (Caller::Backend(_), Some(user)) => named_user(user),
        (Caller::Backend(_), None) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing field `user`: the user to act for",
        )),
    }
}

/// As [`acting_user`], but a backend that names nobody acts as `system`.
pub(super) fn acting_user_or_system(
    caller: &Caller,
    named: Option<&str>,
) -> Result<Actor, ApiError> {
    match (caller, named) {
        (Caller::Backend(_), None) => Ok(system()),
        _ => acting_user(caller, named),
    }
}

/// Checks that `actor` may read `channel`, as the native session's
/// `readable` does: with a token, the namespace's subscribe rules (without
/// a channel token) and, for a room, membership. A backend acting for a
/// user answers for the namespace's rules itself (it issues the channel
/// tokens), so only membership is checked; `system` reads everything.
pub(super) async fn check_readable(
    chat: &Chat,
    app: &AppContext,
    caller: &Caller,
    actor: &Actor,
    channel: &ChannelName,
) -> Result<(), ApiError> {
    if let Caller::User { .. } = caller {
        app.app.check_subscribe(&actor.user, channel, Grant::None)?;
    }
    if actor.limited {
        chat::rooms::check_member(chat, app, channel, &actor.user).await?;
    }
    Ok(())
}

/// What `actor` may see of messages (in `channel`, which decides whether
/// a room's moderator sees hidden text): everything for `system`.
pub(super) async fn viewer(
    chat: &Chat,
    app: &AppContext,
    channel: Option<&ChannelName>,
    actor: &Actor,
) -> Result<chat::moderation::Viewer, ApiError> {
    if !actor.limited {
        return Ok(chat::moderation::Viewer::server());
    }
    Ok(chat::moderation::viewer(chat, app, channel, actor).await?)
}
