//! Live documents: the rules of who reads and writes a channel's documents,
//! their limits, and live queries ([`watch`]), shared by the native
//! protocol and the HTTP API.
//!
//! A module of its own rather than part of `chat/`: documents are synced
//! state (a user's watch progress, a shared board), not messages, and
//! they take nothing from chat's moderation or filters. They do take the
//! same [`Chat`] handle (the store and the node) and answer with
//! [`ChatError`], so the adapters map their refusals as they map chat's.
//!
//! - **Namespace.** `documents = true` (with `persist`): every write is a
//!   `doc_changed` event of the channel's stream.
//! - **Reading** (`doc_get`, `doc_list`, `doc_watch`) is subscribing's
//!   rule: a personal channel (`progress:watch#42`) only for user 42, a
//!   room only for its members, a private namespace with a channel token
//!   (or a subscription made with one).
//! - **Writing**: a personal channel only by its users; a shared channel by
//!   everyone who may read it when the namespace has `allow_publish`, and
//!   otherwise by moderators (token roles, a room's owner and moderators);
//!   the HTTP API with an API key (the backend) always.
//! - **Limits**: `max_document_bytes` (413), `max_documents` per channel
//!   (403), `document_rate` writes per user (429 with `retry_after_ms`).

pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, RateLimiter};
use parley_core::{ChannelName, Grant};
use parley_store::{
    Document, DocumentEdit, DocumentLimits, DocumentPage, DocumentQuery, DocumentWrite,
    DocumentWritten, RoomRole,
};

use crate::chat::{Actor, Chat, ChatError, Rate, chat_namespace, rooms};
use crate::config::{AppConfig, NamespaceConfig};
use crate::json::documents as documents_json;
use crate::rate_clock;
use crate::state::AppContext;

/// The document write limits of an app: a token bucket per user, for each
/// namespace that sets `document_rate`.
#[derive(Default)]
pub struct WriteRates {
    by_namespace: HashMap<String, DefaultKeyedRateLimiter<Arc<str>>>,
}

impl WriteRates {
    /// The limits of `app`'s namespaces that hold documents.
    pub fn new(app: &AppConfig) -> Self {
        let by_namespace = app
            .namespaces
            .iter()
            .filter(|(_, namespace)| namespace.documents)
            .filter_map(|(name, namespace)| {
                let rate = namespace.document_rate?;
                Some((name.clone(), RateLimiter::keyed(rate.quota())))
            })
            .collect();
        Self { by_namespace }
    }

    /// Takes one write of `user` in `namespace`, or says how long to wait.
    fn check(&self, namespace: &str, user: &Arc<str>) -> Result<(), Duration> {
        match self.by_namespace.get(namespace) {
            Some(rate) => rate
                .check_key(user)
                .map_err(|not_until| not_until.wait_time_from(rate_clock::now())),
            None => Ok(()),
        }
    }

    /// Forgets users idle long enough that their buckets are full again.
    pub fn forget_idle(&self) {
        for rate in self.by_namespace.values() {
            rate.retain_recent();
        }
    }
}

/// The configuration of the channel's namespace, which must hold
/// documents.
pub fn documents_namespace<'a>(
    app: &'a AppContext,
    channel: &ChannelName,
) -> Result<&'a NamespaceConfig, ChatError> {
    let (_, config) = chat_namespace(app, channel).map_err(|error| match error {
        ChatError::NotPersisted => not_documents(),
        other => other,
    })?;
    match config.documents {
        true => Ok(config),
        false => Err(not_documents()),
    }
}

fn not_documents() -> ChatError {
    ChatError::Invalid("this namespace does not hold documents".into())
}

/// Checks that `actor` may read the channel's documents: the backend
/// always; a user as subscribing would allow (a `subscribed` connection was
/// checked when it subscribed, with its channel token if it had one).
pub async fn check_read(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    subscribed: bool,
) -> Result<(), ChatError> {
    documents_namespace(app, channel)?;
    if !actor.limited {
        return Ok(());
    }
    if !subscribed {
        app.app.check_subscribe(&actor.user, channel, Grant::None)?;
    }
    rooms::check_member(chat, app, channel, &actor.user).await?;
    Ok(())
}

/// Checks that `actor` may write the channel's documents (see the module's
/// rules), and takes one write of its rate.
async fn check_write(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    subscribed: bool,
    config: &NamespaceConfig,
) -> Result<(), ChatError> {
    if !actor.limited {
        return Ok(());
    }
    if !channel.allows_user(&actor.user) {
        return Err(denied("personal channel of other users"));
    }
    if !subscribed {
        app.app.check_subscribe(&actor.user, channel, Grant::None)?;
    }
    let role = rooms::check_member(chat, app, channel, &actor.user).await?;
    let allowed = channel.is_personal()
        || config.allow_publish
        || actor.moderator
        || role.is_some_and(RoomRole::moderates);
    if !allowed {
        return Err(denied("only moderators write documents here"));
    }
    let namespace = app.app.namespace(channel)?;
    app.document_rates
        .check(&namespace.name, &actor.user)
        .map_err(|wait| ChatError::RateLimited(Rate::DocumentWrites, wait))
}

fn denied(why: &'static str) -> ChatError {
    ChatError::Domain(parley_core::Error::PermissionDenied(why))
}

/// A write as an adapter asks it.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The document's key.
    pub key: String,
    /// What to do.
    pub edit: DocumentEdit,
    /// Compare-and-set: the version the document must have (0: missing).
    pub if_version: Option<u64>,
}

/// Writes a document of the channel, as `actor`, once the rules allow it.
/// `subscribed` says whether the actor's connection is subscribed to the
/// channel (its permission to read was checked then).
pub async fn write(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    subscribed: bool,
    request: WriteRequest,
) -> Result<DocumentWritten, ChatError> {
    let config = documents_namespace(app, channel)?;
    check_write(chat, app, channel, actor, subscribed, config).await?;
    let WriteRequest {
        key,
        edit,
        if_version,
    } = request;
    Ok(chat
        .store()
        .write_document(DocumentWrite {
            app: app.app.id.clone(),
            channel: channel.clone(),
            key,
            edit,
            if_version,
            by: actor.user.to_string(),
            limits: DocumentLimits {
                max_bytes: config.max_document_bytes,
                max_documents: config.max_documents,
            },
            encode: Arc::new(documents_json::changed_data),
        })
        .await?)
}

/// The document `key` of the channel; permission is the caller's to check
/// ([`check_read`]).
pub async fn get(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    key: &str,
) -> Result<Option<Document>, ChatError> {
    Ok(chat.store().document(&app.app.id, channel, key).await?)
}

/// A page of the channel's documents; permission is the caller's to check
/// ([`check_read`]).
pub async fn list(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    query: &DocumentQuery,
) -> Result<DocumentPage, ChatError> {
    Ok(chat.store().documents(&app.app.id, channel, query).await?)
}
