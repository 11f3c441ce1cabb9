//! Durable chat: sending, editing and deleting messages in persisted
//! namespaces, shared by the native protocol and the HTTP API.
//!
//! Every operation takes the [`Chat`] service (the store, the node and
//! cluster control) and returns domain types; the adapters turn them into
//! JSON with [`crate::json`].
//!
//! - [`service`]: the [`Chat`] handle.
//! - [`limits`]: per-namespace rate limits and slow mode.
//! - [`rooms`]: rooms and members, and the membership gate.
//! - [`reads`]: read markers and unread counts.
//! - [`pins`]: pinned messages.
//! - [`threads`]: replies paginated on their own.
//! - [`search`]: full-text search.
//! - [`moderation`]: who moderates, mutes and bans, block lists.
//! - [`filter`]: a namespace's profanity and word-list filter.
//! - [`reports`]: the moderation queue.
//! - [`reactions`]: reactions to messages and to channels.

pub mod filter;
pub mod limits;
pub mod moderation;
pub mod pins;
pub mod reactions;
pub mod reads;
pub mod reports;
pub mod restriction_book;
pub mod rooms;
pub mod search;
pub mod service;
pub mod threads;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_core::{ChannelName, HistoryCursor, HistoryQuery, Namespace, Viewer};
use parley_store::{
    DeleteMode, MAX_ATTACHMENTS, MAX_PAGE_SIZE, Message, MessageCursor, MessageDelete, MessageEdit,
    MessageId, MessageQuery, NewMessage, Order, ReactionCount, Revision, StoreError, UploadId,
};
use serde::Deserialize;
use serde_json::value::RawValue;

pub use service::Chat;

use crate::config::NamespaceConfig;
use crate::json;
use crate::state::AppContext;

/// Why a chat operation was refused.
#[derive(Debug)]
pub enum ChatError {
    /// The channel's namespace does not persist messages.
    NotPersisted,
    /// The input is not acceptable; the message says why.
    Invalid(String),
    /// The user went past one of their rates; retry after this long.
    RateLimited(Rate, Duration),
    /// A domain rule refused it.
    Domain(parley_core::Error),
    /// The store refused or failed.
    Store(StoreError),
    /// The user is muted here; for this long more, when the mute has a
    /// timeout.
    Muted(Option<Duration>),
    /// The user is banned from the channel or the app.
    Banned,
    /// The namespace's filter refused the text; the message says why.
    Filtered(String),
}

/// A per-user rate a write can go past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Messages (the namespace's `rate`, and slow mode).
    Messages,
    /// Document writes (the namespace's `document_rate`).
    DocumentWrites,
}

impl Rate {
    /// What a refusal says: what there was too much of.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Messages => "too many messages",
            Self::DocumentWrites => "too many document writes",
        }
    }
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

/// A message to send, as callers write it. (One flat struct: a raw JSON
/// `meta` cannot pass through `#[serde(flatten)]`.)
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The channel, where the caller names it in the body.
    pub channel: Option<String>,
    /// The author, for server API callers; users send as themselves.
    pub user: Option<String>,
    /// The text; may be empty when the message has attachments.
    #[serde(default)]
    pub text: String,
    /// Ids of the sender's uploads to attach, at most 10.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The id of the message this one answers.
    pub reply_to: Option<String>,
    /// The client's idempotency key.
    pub client_msg_id: Option<String>,
    /// Application data: a JSON object.
    #[schema(value_type = Option<serde_json::Value>)]
    pub meta: Option<Box<RawValue>>,
    /// The users the message mentions: their unread mention counts grow.
    pub mentions: Option<Vec<String>>,
    /// The author's display name, for server API callers sending as a user
    /// (a user's comes from their token; a user may not send it).
    pub author_name: Option<String>,
    /// The author's avatar URL, like `author_name`.
    pub author_avatar: Option<String>,
}

/// The most users one message may mention.
pub const MAX_MENTIONS: usize = 50;

/// Who acts on a message.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user id (`system` for the server API).
    pub user: Arc<str>,
    /// The name and avatar of the user's token, which the messages they
    /// send carry; none for the server API (a backend gives them per
    /// message).
    pub profile: Profile,
    /// A moderator or admin, who may delete any message.
    pub moderator: bool,
    /// Whether message limits apply (they do not to the server API).
    pub limited: bool,
}

/// A user's display name and avatar URL, as their token gives them: what
/// each message they send stores as its `author_name` and `author_avatar`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Display name (the token's `name`).
    pub name: Option<String>,
    /// Avatar URL (the token's `avatar`).
    pub avatar: Option<String>,
}

impl Profile {
    /// The profile a verified token gives its user's messages.
    pub fn of(claims: &parley_core::Claims) -> Self {
        Self {
            name: claims.name.clone(),
            avatar: claims.avatar.clone(),
        }
    }
}

/// The longest `author_name` a backend may give, in characters.
const MAX_AUTHOR_NAME: usize = 256;

/// The longest `author_avatar` a backend may give, in bytes.
const MAX_AUTHOR_AVATAR: usize = 2048;

/// The profile a message is sent with: the actor's (a user's token's), or,
/// for the server API only, the one the request gives. A user never names
/// their own, so no client can put another name on a message.
fn author_profile(actor: &Actor, request: &mut SendRequest) -> Result<Profile, ChatError> {
    let name = request.author_name.take();
    let avatar = request.author_avatar.take();
    if name.is_none() && avatar.is_none() {
        return Ok(actor.profile.clone());
    }
    if actor.limited {
        return Err(ChatError::Invalid(
            "author_name and author_avatar come from the token: drop them".into(),
        ));
    }
    if name
        .as_ref()
        .is_some_and(|name| name.is_empty() || name.chars().count() > MAX_AUTHOR_NAME)
    {
        return Err(ChatError::Invalid(format!(
            "author_name must be 1 to {MAX_AUTHOR_NAME} characters"
        )));
    }
    if avatar
        .as_ref()
        .is_some_and(|avatar| avatar.is_empty() || avatar.len() > MAX_AUTHOR_AVATAR)
    {
        return Err(ChatError::Invalid(format!(
            "author_avatar must be 1 to {MAX_AUTHOR_AVATAR} bytes"
        )));
    }
    Ok(Profile { name, avatar })
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

pub(crate) fn parse_id(id: &str) -> Result<MessageId, ChatError> {
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
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    actor: &Actor,
    mut request: SendRequest,
) -> Result<SendOutcome, ChatError> {
    let profile = author_profile(actor, &mut request)?;
    let (namespace, config) = chat_namespace(app, channel)?;
    let attachments = attachment_ids(&request.attachments)?;
    if attachments.is_empty() || !request.text.is_empty() {
        check_text(&request.text, config)?;
    }
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
    let size = request.text.len() + meta.as_ref().map_or(0, Bytes::len);
    if size > namespace.max_message_bytes {
        return Err(ChatError::Domain(parley_core::Error::MessageTooLarge(
            namespace.max_message_bytes,
        )));
    }
    let reply_to = request.reply_to.as_deref().map(parse_id).transpose()?;
    let mut request = request;
    let mut mentions = request.mentions.take().unwrap_or_default();
    mentions.sort();
    mentions.dedup();
    if mentions.len() > MAX_MENTIONS
        || mentions
            .iter()
            .any(|user| user.is_empty() || user.len() > 255 || user.contains(['\n', '\r']))
    {
        return Err(ChatError::Invalid(format!(
            "mentions must be at most {MAX_MENTIONS} user ids"
        )));
    }
    if actor.limited {
        rooms::check_member(chat, app, channel, &actor.user).await?;
    }
    let mode = moderation::check_send(chat, app, channel, actor).await?;
    // A resend is answered with the stored message before the filter and
    // the rate limit see it: it was accepted once, and counts once.
    if let Some(key) = &request.client_msg_id
        && let Some(message) = chat
            .store()
            .sent_message(&app.app.id, channel, &actor.user, key)
            .await?
    {
        return Ok(SendOutcome::Resent(message));
    }
    let (text, flag) = filtered(config, std::mem::take(&mut request.text))?;
    request.text = text;
    if actor.limited
        && let Some(limits) = app.limits.get(&namespace.name)
    {
        limits
            .check(&app.app.id, &actor.user, channel)
            .await
            .map_err(|wait| ChatError::RateLimited(Rate::Messages, wait))?;
    }
    let sent = chat
        .store()
        .send_message(NewMessage {
            app: app.app.id.clone(),
            channel: channel.clone(),
            author: actor.user.to_string(),
            author_name: profile.name,
            author_avatar: profile.avatar,
            text: request.text,
            reply_to,
            client_msg_id: request.client_msg_id,
            meta,
            mentions,
            shadow: mode.shadow,
            attachments,
            room: rooms::is_room_channel(app, channel),
        })
        .await?;
    if let Some(reason) = flag
        && sent.publication.is_some()
    {
        report_flagged(chat, app, sent.message.id, &reason).await;
    }
    // No publication: a concurrent send with the same key won the race in
    // the store, and this one got that message back.
    Ok(match sent.publication {
        Some(_) => SendOutcome::Created(sent.message),
        None => SendOutcome::Resent(sent.message),
    })
}

/// What a send did: stored a new message, or found the one sent before with
/// the same `client_msg_id` and stored nothing.
#[derive(Debug)]
pub enum SendOutcome {
    /// A new message, stored and published.
    Created(Message),
    /// The message sent earlier with the same key, as it is now.
    Resent(Message),
}

impl SendOutcome {
    /// The message, new or earlier.
    pub fn into_message(self) -> Message {
        match self {
            Self::Created(message) | Self::Resent(message) => message,
        }
    }
}

/// Runs the namespace's filter: the text to store, and the reason to
/// report it for in `flag` mode.
fn filtered(config: &NamespaceConfig, text: String) -> Result<(String, Option<String>), ChatError> {
    let Some(filter) = &config.filter else {
        return Ok((text, None));
    };
    match filter.check(&text) {
        filter::Verdict::Clean => Ok((text, None)),
        filter::Verdict::Refuse(why) => Err(ChatError::Filtered(why)),
        filter::Verdict::Masked(masked) => Ok((masked, None)),
        filter::Verdict::Flag(why) => Ok((text, Some(why))),
    }
}

/// Files the filter's report on a committed message. The message is
/// committed already: a failed report is logged and must not turn its
/// acknowledgement into an error.
async fn report_flagged(chat: &Chat, app: &AppContext, id: MessageId, reason: &str) {
    if let Err(error) = chat.store().report(&app.app.id, id, "system", reason).await {
        tracing::error!(%error, "filing the filter's report failed");
    }
}

/// The upload ids a message is to carry: at most [`MAX_ATTACHMENTS`], each
/// once.
fn attachment_ids(ids: &[String]) -> Result<Vec<UploadId>, ChatError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ChatError::Invalid(format!(
            "a message carries at most {MAX_ATTACHMENTS} attachments"
        )));
    }
    let mut parsed: Vec<UploadId> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = UploadId::parse(id)
            .map_err(|_| ChatError::Invalid(format!("{id:?} is not an upload id")))?;
        if parsed.contains(&id) {
            return Err(ChatError::Invalid(format!("upload {id} is attached twice")));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

/// Edits a message's text (its author only).
pub async fn edit(
    chat: &Chat,
    app: &AppContext,
    id: &str,
    actor: &Actor,
    text: String,
) -> Result<Message, ChatError> {
    let id = parse_id(id)?;
    let message = chat.store().message(&app.app.id, id).await?;
    let (_, config) = chat_namespace(app, &message.channel)?;
    check_text(&text, config)?;
    if actor.limited {
        rooms::check_member(chat, app, &message.channel, &actor.user).await?;
    }
    // A muted user may not edit either: an edit would say what a send may
    // not.
    moderation::check_send(chat, app, &message.channel, actor).await?;
    let (text, flag) = filtered(config, text)?;
    let changed = chat
        .store()
        .edit_message(MessageEdit {
            app: app.app.id.clone(),
            id,
            editor: actor.user.to_string(),
            text,
        })
        .await?;
    if let Some(reason) = flag {
        report_flagged(chat, app, changed.message.id, &reason).await;
    }
    Ok(changed.message)
}

/// Deletes a message: its author soft-deletes; a moderator may delete any,
/// and may hard-delete.
pub async fn delete(
    chat: &Chat,
    app: &AppContext,
    id: &str,
    actor: &Actor,
    mode: DeleteMode,
) -> Result<Message, ChatError> {
    let id = parse_id(id)?;
    // Token moderators moderate everywhere; room owners and moderators in
    // their room, so their channel is read first.
    let moderator = actor.moderator
        || match chat.store().message(&app.app.id, id).await {
            Ok(message) => {
                moderation::is_moderator(chat, app, Some(&message.channel), actor).await?
            }
            Err(_) => false,
        };
    if mode == DeleteMode::Hard && !moderator {
        return Err(ChatError::Domain(parley_core::Error::PermissionDenied(
            "only moderators hard-delete",
        )));
    }
    let changed = chat
        .store()
        .delete_message(MessageDelete {
            app: app.app.id.clone(),
            id,
            actor: actor.user.to_string(),
            actor_is_moderator: moderator,
            mode,
        })
        .await?;
    Ok(changed.message)
}

/// The channel of message `id`: what a report or a thread is checked
/// against before the user may touch the message.
pub async fn message_channel(
    chat: &Chat,
    app: &AppContext,
    id: MessageId,
) -> Result<ChannelName, ChatError> {
    Ok(chat.store().message(&app.app.id, id).await?.channel)
}

/// The texts message `id` had before its edits, oldest first. The caller
/// checked that the reader moderates.
pub async fn edit_trail(
    chat: &Chat,
    app: &AppContext,
    id: MessageId,
) -> Result<Vec<Revision>, ChatError> {
    Ok(chat.store().edit_trail(&app.app.id, id).await?)
}

/// Whether roles make a user a moderator.
pub fn is_moderator(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|role| role == "moderator" || role == "admin")
}

/// The page size when the caller names none.
const DEFAULT_PAGE: usize = 50;

pub(crate) fn page_limit(limit: Option<usize>) -> Result<usize, ChatError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ChatError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE_SIZE}"
        )));
    }
    Ok(limit)
}

/// Which page of a channel's stream to read, by offsets.
#[derive(Debug, Default)]
pub struct HistoryRange {
    /// Publications below this offset.
    pub before: Option<u64>,
    /// Publications above this offset.
    pub after: Option<u64>,
    /// Publications per page, 1 to 100.
    pub limit: Option<usize>,
    /// Whether the page also gives the channel's message `total` (a
    /// persisted channel's only).
    pub total: bool,
}

/// A page of a channel's stream, by offsets, as `viewer` may see it:
/// `{"publications": [...], "offset", "epoch", "has_more", "total"?}`,
/// oldest first. A persisted stream's page comes from the store, a
/// transient one's from what its broker keeps (`history_size`);
/// `Node::history` chooses. `total` counts messages, not publications (see
/// [`parley_store::Store::message_total`]).
pub async fn history_json(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    range: HistoryRange,
    viewer: &Viewer,
) -> Result<String, ChatError> {
    let limit = page_limit(range.limit)?;
    if range.total {
        // Only a persisted channel keeps a message count.
        chat_namespace(app, channel)?;
    }
    let cursor = match (range.before, range.after) {
        (Some(_), Some(_)) => {
            return Err(ChatError::Invalid("give before or after, not both".into()));
        }
        (Some(before), None) => HistoryCursor::Before(before),
        (None, Some(after)) => HistoryCursor::After(after),
        (None, None) => HistoryCursor::Newest,
    };
    let mut page = chat
        .node()
        .history(&app.app, channel, HistoryQuery { cursor, limit })
        .await?;
    // What the viewer may not see leaves the page; the page may then hold
    // fewer than `limit`, and `has_more` still pages on by offsets.
    let has_more = page.has_more(cursor);
    page.entries.retain(|entry| viewer.sees(&entry.publication));
    let total = match range.total {
        true => Some(chat.store().message_total(&app.app.id, channel).await?),
        false => None,
    };
    Ok(format!(
        r#"{{"publications":{},"offset":{},"epoch":{},"has_more":{has_more}{}}}"#,
        json::publications_json(&page.entries),
        page.position.offset,
        serde_json::to_string(&*page.position.epoch).expect("strings serialize"),
        json::pages::total_field(total),
    ))
}

/// Where a page of messages starts, as callers write it.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesCursor {
    /// Messages older than this id.
    pub before: Option<String>,
    /// Messages newer than this id.
    pub after: Option<String>,
    /// This message and its neighbours.
    pub around: Option<String>,
    /// `newest_first` (the default) or `oldest_first`.
    pub order: Option<String>,
    /// Messages per page, 1 to 100.
    pub limit: Option<usize>,
    /// `true`: the page also gives `total`, the channel's messages that
    /// every reader sees (not deleted, hidden or shadow), from a counter.
    #[serde(default)]
    pub total: bool,
}

/// A page of a persisted channel's messages in their current state, as
/// `viewer` may see them, each with its reactions relative to the viewing
/// user.
pub async fn messages(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    cursor: MessagesCursor,
    viewer: &moderation::Viewer,
) -> Result<MessagePage, ChatError> {
    chat_namespace(app, channel)?;
    let position = match (cursor.before, cursor.after, cursor.around) {
        (None, None, None) => MessageCursor::Newest,
        (Some(id), None, None) => MessageCursor::Before(parse_id(&id)?),
        (None, Some(id), None) => MessageCursor::After(parse_id(&id)?),
        (None, None, Some(id)) => MessageCursor::Around(parse_id(&id)?),
        _ => {
            return Err(ChatError::Invalid(
                "give one of before, after or around".into(),
            ));
        }
    };
    let order = match cursor.order.as_deref() {
        None | Some("newest_first") => Order::NewestFirst,
        Some("oldest_first") => Order::OldestFirst,
        Some(other) => {
            return Err(ChatError::Invalid(format!(
                "order {other:?} is not newest_first or oldest_first"
            )));
        }
    };
    let query = MessageQuery {
        cursor: position,
        order,
        limit: page_limit(cursor.limit)?,
        total: cursor.total,
    };
    let page = chat.store().messages(&app.app.id, channel, query).await?;
    Ok(MessagePage {
        messages: visible(chat, page.messages, viewer).await?,
        has_older: page.has_older,
        has_newer: page.has_newer,
        total: page.total,
    })
}

/// A page of a channel's messages as one viewer sees them.
#[derive(Debug)]
pub struct MessagePage {
    /// The messages the viewer sees, in the order asked for.
    pub messages: Vec<SeenMessage>,
    /// Whether older messages are left.
    pub has_older: bool,
    /// Whether newer messages are left.
    pub has_newer: bool,
    /// The channel's total, when asked for: the same for every reader.
    pub total: Option<u64>,
}

/// A message as one viewer sees it.
#[derive(Debug)]
pub struct SeenMessage {
    /// The message.
    pub message: Message,
    /// Its reactions, with `me` relative to the viewing user.
    pub reactions: Vec<ReactionCount>,
    /// Whether a hidden message shows its text (to moderators).
    pub revealed: bool,
}

/// The messages `viewer` may see, each with its reactions relative to the
/// viewing user; what the viewer may not see (another's shadow message, a
/// blocked user's) leaves the list, and hidden messages are revealed only
/// to moderators. Every read of messages (pages, threads, pins, search)
/// goes through it.
pub async fn visible(
    chat: &Chat,
    messages: Vec<Message>,
    viewer: &moderation::Viewer,
) -> Result<Vec<SeenMessage>, ChatError> {
    let visible: Vec<Message> = messages
        .into_iter()
        .filter(|message| moderation::sees_message(viewer, message))
        .collect();
    let ids: Vec<MessageId> = visible.iter().map(|message| message.id).collect();
    let reactions = chat
        .store()
        .message_reactions(&ids, viewer.user.as_deref())
        .await?;
    Ok(visible
        .into_iter()
        .map(|message| SeenMessage {
            reactions: reactions.get(&message.id).cloned().unwrap_or_default(),
            message,
            revealed: viewer.moderator,
        })
        .collect())
}
