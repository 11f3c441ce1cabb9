//! Durable chat: sending, editing and deleting messages in persisted
//! namespaces, shared by the native protocol and the HTTP API.
//!
//! - [`json`]: the JSON of messages and stored publications.
//! - [`limits`]: per-namespace rate limits and slow mode.

pub mod json;
pub mod limits;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_core::{ChannelName, Namespace};
use parley_store::{
    DeleteMode, Message, MessageDelete, MessageEdit, MessageId, NewMessage, StoreError,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::NamespaceConfig;
use crate::state::{AppContext, ServerState};

/// Why a chat operation was refused.
#[derive(Debug)]
pub enum ChatError {
    /// The channel's namespace does not persist messages.
    NotPersisted,
    /// The input is not acceptable; the message says why.
    Invalid(String),
    /// The user sent too much; retry after this long.
    RateLimited(Duration),
    /// A domain rule refused it.
    Domain(parley_core::Error),
    /// The store refused or failed.
    Store(StoreError),
}

impl From<parley_core::Error> for ChatError {
    fn from(error: parley_core::Error) -> Self {
        Self::Domain(error)
    }
}

impl From<StoreError> for ChatError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// A message to send, as clients write it.
#[derive(Debug, Deserialize)]
pub struct SendRequest {
    /// The text.
    pub text: String,
    /// The id of the message this one answers.
    pub reply_to: Option<String>,
    /// The client's idempotency key.
    pub client_msg_id: Option<String>,
    /// Application data: a JSON object.
    pub meta: Option<Box<RawValue>>,
}

/// Who acts on a message.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user id (`system` for the server API).
    pub user: Arc<str>,
    /// A moderator or admin, who may delete any message.
    pub moderator: bool,
    /// Whether message limits apply (they do not to the server API).
    pub limited: bool,
}

/// The longest `client_msg_id` accepted.
const MAX_CLIENT_MSG_ID: usize = 128;

/// The namespace of a persisted channel, with its chat options.
pub fn chat_namespace<'a>(
    app: &'a AppContext,
    channel: &ChannelName,
) -> Result<(&'a Namespace, &'a NamespaceConfig), ChatError> {
    let namespace = app.app.namespace(channel)?;
    match app.config.namespaces.get(&namespace.name) {
        Some(config) if config.persist => Ok((namespace, config)),
        _ => Err(ChatError::NotPersisted),
    }
}

fn parse_id(id: &str) -> Result<MessageId, ChatError> {
    id.parse()
        .map_err(|_| ChatError::Invalid(format!("{id:?} is not a message id")))
}

fn check_text(text: &str, config: &NamespaceConfig) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        return Err(ChatError::Invalid("text is empty".into()));
    }
    let length = text.chars().count();
    if length > config.max_message_length {
        return Err(ChatError::Invalid(format!(
            "text is {length} characters, over the limit of {}",
            config.max_message_length
        )));
    }
    Ok(())
}

/// Sends a message and returns it once it is committed.
pub async fn send(
    server: &ServerState,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    request: SendRequest,
) -> Result<Message, ChatError> {
    let (namespace, config) = chat_namespace(app, channel)?;
    check_text(&request.text, config)?;
    if request
        .client_msg_id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.len() > MAX_CLIENT_MSG_ID)
    {
        return Err(ChatError::Invalid(format!(
            "client_msg_id must be 1 to {MAX_CLIENT_MSG_ID} bytes"
        )));
    }
    let meta = match &request.meta {
        None => None,
        Some(meta) if meta.get().trim_start().starts_with('{') => {
            Some(Bytes::copy_from_slice(meta.get().as_bytes()))
        }
        Some(_) => return Err(ChatError::Invalid("meta must be a JSON object".into())),
    };
    let reply_to = request.reply_to.as_deref().map(parse_id).transpose()?;
    if actor.limited
        && let Some(limits) = app.limits.get(&namespace.name)
    {
        limits
            .check(&actor.user, channel)
            .map_err(ChatError::RateLimited)?;
    }
    let sent = server
        .store
        .send_message(NewMessage {
            app: app.app.id.clone(),
            channel: channel.clone(),
            author: actor.user.to_string(),
            text: request.text,
            reply_to,
            client_msg_id: request.client_msg_id,
            meta,
        })
        .await?;
    Ok(sent.message)
}

/// Edits a message's text (its author only).
pub async fn edit(
    server: &ServerState,
    app: &AppContext,
    id: &str,
    actor: &Actor,
    text: String,
) -> Result<Message, ChatError> {
    let id = parse_id(id)?;
    let message = server.store.message(&app.app.id, id).await?;
    let (_, config) = chat_namespace(app, &message.channel)?;
    check_text(&text, config)?;
    let changed = server
        .store
        .edit_message(MessageEdit {
            app: app.app.id.clone(),
            id,
            editor: actor.user.to_string(),
            text,
        })
        .await?;
    Ok(changed.message)
}

/// Deletes a message: its author soft-deletes; a moderator may delete any,
/// and may hard-delete.
pub async fn delete(
    server: &ServerState,
    app: &AppContext,
    id: &str,
    actor: &Actor,
    hard: bool,
) -> Result<Message, ChatError> {
    if hard && !actor.moderator {
        return Err(ChatError::Domain(parley_core::Error::PermissionDenied(
            "only moderators hard-delete",
        )));
    }
    let changed = server
        .store
        .delete_message(MessageDelete {
            app: app.app.id.clone(),
            id: parse_id(id)?,
            actor: actor.user.to_string(),
            actor_is_moderator: actor.moderator,
            mode: if hard {
                DeleteMode::Hard
            } else {
                DeleteMode::Soft
            },
        })
        .await?;
    Ok(changed.message)
}

/// Whether roles make a user a moderator.
pub fn is_moderator(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|role| role == "moderator" || role == "admin")
}
