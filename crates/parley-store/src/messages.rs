//! Chat messages: their ids, their stored state, the requests that change
//! them and the pages that read them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, EventKind, PublicationKind};
use sqlx::AnyConnection;

use crate::commands::{Command, Context};
use crate::event::{self, Event, Turn};
use crate::sql::{self, End, Ordered, Window, messages, reactions, streams, uploads};
use crate::store::page_bounds;
use crate::{Store, StoreError, StoredPublication, Timestamp, Upload, UploadId, reads, threads};

mod bulk;

pub(crate) use bulk::send_many;

/// The most messages (or publications) one page holds.
pub const MAX_PAGE_SIZE: usize = 100;

/// A message's id, unique in the whole store and never reused.
///
/// It is a positive 64-bit integer from the database (an `AUTOINCREMENT` key
/// on SQLite, an identity column on PostgreSQL), written on the wire as its
/// decimal string. Ids grow with time on one node, but a channel's order is
/// its messages' offsets, not their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(i64);

impl MessageId {
    /// The id with this number, as the database assigned it.
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    /// The id's number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for MessageId {
    type Err = StoreError;

    /// Parses the decimal form; anything else (signs, spaces, zero) is
    /// invalid input.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || StoreError::InvalidInput(format!("{text:?} is not a message id"));
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        match text.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => Err(invalid()),
        }
    }
}

/// A chat message as stored now: its latest text, or a tombstone once
/// deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The server-assigned id.
    pub id: MessageId,
    /// The channel it was sent to.
    pub channel: ChannelName,
    /// The offset of its `message_created` publication: its place in the
    /// channel.
    pub offset: u64,
    /// The user who sent it.
    pub author: String,
    /// The author's display name when the message was sent (from their
    /// token, or from the backend that sent as them); a later change of
    /// name leaves it as it was.
    pub author_name: Option<String>,
    /// The author's avatar URL when the message was sent, like
    /// `author_name`.
    pub author_avatar: Option<String>,
    /// The current text; empty once deleted.
    pub text: String,
    /// The message it answers, if any (the id stays if that one is
    /// hard-deleted later).
    pub reply_to: Option<MessageId>,
    /// The sender's idempotency key, so a client can match the live event
    /// with the message it showed optimistically.
    pub client_msg_id: Option<String>,
    /// Raw JSON object bytes from the caller; cleared once deleted.
    pub meta: Option<Bytes>,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When its text was last edited.
    pub edited_at: Option<Timestamp>,
    /// When it was deleted: set on a tombstone.
    pub deleted_at: Option<Timestamp>,
    /// How many replies name it as their `reply_to`.
    pub reply_count: u64,
    /// The latest users to reply, newest first, at most [`MAX_REPLIERS`].
    pub repliers: Vec<String>,
    /// The users it mentions.
    pub mentions: Vec<String>,
    /// Hidden by a moderator: shown to moderators only.
    pub hidden: bool,
    /// Sent while its author was shadow-muted: shown to its author only.
    pub shadow: bool,
    /// The uploads it carries, in order; none on a tombstone.
    pub attachments: Vec<Upload>,
}

/// The most repliers a message lists.
pub const MAX_REPLIERS: usize = 3;

impl Message {
    /// The kind of the event of a message sent; its data is the message.
    pub const CREATED: EventKind = EventKind::new("message_created");
    /// The kind of the event of a message edited, hidden or shown, or
    /// replied to; its data is the message as it is now.
    pub const UPDATED: EventKind = EventKind::new("message_updated");
    /// The kind of the event of a message deleted; its data is the
    /// tombstone.
    pub const DELETED: EventKind = EventKind::new("message_deleted");

    /// Whether the message is a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the message counts in its channel's total (`live_messages`):
    /// every reader sees it, so it is not deleted, hidden or shadow.
    pub(crate) fn is_counted(&self) -> bool {
        !self.is_deleted() && !self.hidden && !self.shadow
    }
}

/// An event about a message: `kind` and the message as it is after the
/// change, encoded by the store's
/// [`MessageEventEncoder`](crate::MessageEventEncoder). It is for everyone who reads the channel,
/// or only for the author of a shadow message.
pub(crate) struct MessageEvent<'a> {
    /// [`Message::CREATED`], [`Message::UPDATED`] or [`Message::DELETED`].
    pub(crate) kind: EventKind,
    /// The message after the change.
    pub(crate) message: &'a Message,
}

impl Event for MessageEvent<'_> {
    fn kind(&self) -> PublicationKind {
        self.kind.clone().into()
    }

    fn data(&self, context: &Context<'_>) -> Bytes {
        context.encoder.encode(self.kind(), self.message)
    }

    fn message_id(&self) -> Option<MessageId> {
        Some(self.message.id)
    }

    fn author(&self) -> Option<Arc<str>> {
        Some(Arc::from(self.message.author.as_str()))
    }

    fn audience(&self) -> Option<Arc<str>> {
        self.message
            .shadow
            .then(|| Arc::from(self.message.author.as_str()))
    }
}

/// Encodes a message's earlier `message_created` and `message_updated`
/// events again from its state now, so history and recovery no longer
/// carry what deleting or hiding took away; every offset stays in place.
pub(crate) async fn redact(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    message: &Message,
) -> Result<(), StoreError> {
    for kind in [Message::CREATED, Message::UPDATED] {
        let kind = PublicationKind::from(kind);
        let data = context.encoder.encode(kind.clone(), message);
        streams::redact(connection, app, &message.channel, message.id, kind, &data).await?;
    }
    Ok(())
}

/// A message to send. Text validation (length, not only whitespace) is the
/// caller's; the store only refuses empty text.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The app the channel belongs to.
    pub app: Arc<str>,
    /// The channel, in a namespace whose messages are persisted.
    pub channel: ChannelName,
    /// The sending user's id.
    pub author: String,
    /// The sender's display name, from their token or from the backend
    /// sending as them; never from what a client writes in the message.
    pub author_name: Option<String>,
    /// The sender's avatar URL, like `author_name`.
    pub author_avatar: Option<String>,
    /// The text.
    pub text: String,
    /// A message of the same channel this one answers.
    pub reply_to: Option<MessageId>,
    /// The client's idempotency key: sending again with the same key (same
    /// app, channel and author) returns the first message and appends
    /// nothing.
    pub client_msg_id: Option<String>,
    /// Raw JSON object bytes, stored and returned as they are.
    pub meta: Option<Bytes>,
    /// The users it mentions (no line breaks in their ids): their unread
    /// mention counts grow.
    pub mentions: Vec<String>,
    /// The author is shadow-muted: the message and its later events are
    /// for the author's eyes only.
    pub shadow: bool,
    /// Uploads of the author's to attach, at most
    /// [`MAX_ATTACHMENTS`](crate::MAX_ATTACHMENTS); with attachments the
    /// text may be empty.
    pub attachments: Vec<UploadId>,
    /// The channel is a room (of a members-only namespace): the message
    /// moves the room's last activity. Other channels have no room row to
    /// update, so their sends skip the statement.
    pub room: bool,
}

/// An edit of a message's text.
#[derive(Debug, Clone)]
pub struct MessageEdit {
    /// The app the message belongs to.
    pub app: Arc<str>,
    /// The message.
    pub id: MessageId,
    /// The user editing; must be the author.
    pub editor: String,
    /// The new text.
    pub text: String,
}

/// How a message is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Leave a tombstone in the channel: the row stays with its id, offset
    /// and author, its text and meta cleared and `deleted_at` set.
    Soft,
    /// Remove the row (moderators only). The `message_deleted` publication
    /// still tells subscribers.
    Hard,
}

impl DeleteMode {
    /// The mode a request's `hard` flag asks for.
    pub fn from_hard(hard: bool) -> Self {
        if hard {
            DeleteMode::Hard
        } else {
            DeleteMode::Soft
        }
    }
}

/// A deletion of a message.
#[derive(Debug, Clone)]
pub struct MessageDelete {
    /// The app the message belongs to.
    pub app: Arc<str>,
    /// The message.
    pub id: MessageId,
    /// The user deleting it.
    pub actor: String,
    /// Whether the actor moderates the channel: moderators delete anyone's
    /// messages and may hard-delete.
    pub actor_is_moderator: bool,
    /// Tombstone or removal.
    pub mode: DeleteMode,
}

/// What [`send_message`](crate::Store::send_message) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The stored message.
    pub message: Message,
    /// Its `message_created` publication, or `None` when the
    /// `client_msg_id` was seen before: then `message` is the earlier
    /// message as it is now, and there is nothing new to deliver.
    pub publication: Option<StoredPublication>,
    /// For a new reply, the message it answers with its new reply count
    /// and repliers, and that message's `message_updated` event.
    pub parent: Option<Box<Changed>>,
}

/// What an edit or a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The message after the change: the edited message, or the tombstone
    /// (for a hard delete, the tombstone of a row that no longer exists).
    pub message: Message,
    /// The `message_updated` or `message_deleted` publication.
    pub publication: StoredPublication,
}

/// One text a message had before an edit replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// 1 for the original text, then 2, 3, … per edit.
    pub number: u64,
    /// The text as it was.
    pub text: String,
    /// When the next edit replaced it.
    pub replaced_at: Timestamp,
}

/// Where a page of messages starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageCursor {
    /// The channel's newest messages.
    Newest,
    /// The channel's oldest messages.
    Oldest,
    /// The messages just older than this one.
    Before(MessageId),
    /// The messages just newer than this one.
    After(MessageId),
    /// This message, with up to half a page older and the rest newer.
    Around(MessageId),
}

/// The order of the messages in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first.
    NewestFirst,
    /// Oldest first.
    OldestFirst,
}

/// A request for one page of a channel's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQuery {
    /// Where the page starts.
    pub cursor: MessageCursor,
    /// The order of the page.
    pub order: Order,
    /// How many messages at most; capped at [`MAX_PAGE_SIZE`].
    pub limit: usize,
    /// Whether the page also gives the channel's [`total`](MessagePage::total).
    pub total: bool,
}

/// One page of a channel's messages, in their current state (edited text,
/// tombstones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    /// The messages, in the order asked for.
    pub messages: Vec<Message>,
    /// Whether the channel has messages older than the page.
    pub has_older: bool,
    /// Whether the channel has messages newer than the page.
    pub has_newer: bool,
    /// When the query asked for it, the channel's messages that every
    /// reader sees (see [`Store::message_total`]).
    pub total: Option<u64>,
}

/// Sends a message, or returns the earlier one with the same idempotency
/// key. The key is looked up before the stream lock, so a duplicate costs no
/// lock; two nodes inserting the same key at once are caught by the unique
/// index, and the writer runs the loser again, which then finds the winner.
pub(crate) async fn send(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    new: &NewMessage,
) -> Result<Sent, StoreError> {
    if let Some(key) = &new.client_msg_id
        && let Some(mut message) =
            messages::find_sent(connection, &new.app, &new.channel, &new.author, key).await?
    {
        uploads::fill(connection, std::slice::from_mut(&mut message)).await?;
        return Ok(Sent {
            message,
            publication: None,
            parent: None,
        });
    }
    if let Some(reply_to) = new.reply_to {
        let channel = messages::channel_of(connection, &new.app, reply_to).await?;
        if channel.as_ref() != Some(&new.channel) {
            return Err(StoreError::InvalidInput(format!(
                "reply_to {reply_to} is not a message of this channel"
            )));
        }
    }
    // A shadow message is for its author's eyes only: it takes no place in
    // the channel's message count (so no one else's unread count grows),
    // mentions no one and adds nothing to its parent's thread. It takes the
    // current count as its seq, and the author's read marker covers it.
    let (turn, seq) =
        Turn::take_counting(connection, context, &new.app, &new.channel, !new.shadow).await?;
    reads::mark_sent(connection, context, new, seq, turn.offset()).await?;
    let mut message = messages::insert(connection, new, turn.offset(), seq, context.now).await?;
    if !new.shadow {
        reads::record_mentions(connection, &message, &new.app, seq).await?;
    }
    message.attachments = uploads::link(
        connection,
        &new.app,
        &new.author,
        message.id,
        &new.attachments,
    )
    .await?;
    let event = MessageEvent {
        kind: Message::CREATED,
        message: &message,
    };
    let publication = event::append(connection, context, turn, &event).await?;
    let parent = match new.shadow {
        true => None,
        false => threads::count_reply(connection, context, &new.app, &message).await?,
    };
    Ok(Sent {
        message,
        publication: Some(publication),
        parent,
    })
}

/// Edits a message: its author only, and not a deleted one.
pub(crate) async fn edit(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    edit: &MessageEdit,
    channel: &ChannelName,
) -> Result<Changed, StoreError> {
    let turn = Turn::take(connection, context, &edit.app, channel).await?;
    let mut message = messages::find_live(connection, &edit.app, edit.id).await?;
    if message.author != edit.editor {
        return Err(StoreError::Forbidden("only its author may edit a message"));
    }
    uploads::fill(connection, std::slice::from_mut(&mut message)).await?;
    messages::add_revision(connection, message.id, &message.text, context.now).await?;
    messages::set_text(connection, message.id, &edit.text, context.now).await?;
    message.text.clone_from(&edit.text);
    message.edited_at = Some(context.now);
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

/// Deletes a message and redacts its earlier events: their data is encoded
/// again from the tombstone, so the deleted text leaves history and
/// recovery too, while every offset stays in place.
pub(crate) async fn delete(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    delete: &MessageDelete,
    channel: &ChannelName,
) -> Result<Changed, StoreError> {
    let turn = Turn::take(connection, context, &delete.app, channel).await?;
    let mut message = messages::find(connection, &delete.app, delete.id)
        .await?
        .ok_or(StoreError::NotFound("message"))?;
    if !delete.actor_is_moderator && message.author != delete.actor {
        return Err(StoreError::Forbidden(
            "only its author or a moderator may delete a message",
        ));
    }
    match delete.mode {
        DeleteMode::Hard if !delete.actor_is_moderator => {
            return Err(StoreError::Forbidden(
                "only a moderator may hard-delete a message",
            ));
        }
        // A tombstone is already soft-deleted; deleting it again is a
        // message that is not there.
        DeleteMode::Soft if message.is_deleted() => return Err(StoreError::NotFound("message")),
        _ => {}
    }
    if message.is_counted() {
        streams::count_live(connection, &delete.app, channel, -1).await?;
    }
    message.text.clear();
    message.meta = None;
    message.attachments.clear();
    uploads::detach(connection, message.id).await?;
    reactions::clear(connection, message.id).await?;
    let deleted_at = *message.deleted_at.get_or_insert(context.now);
    match delete.mode {
        DeleteMode::Soft => messages::bury(connection, message.id, deleted_at).await?,
        DeleteMode::Hard => messages::remove(connection, message.id).await?,
    }
    redact(connection, context, &delete.app, &message).await?;
    let event = MessageEvent {
        kind: Message::DELETED,
        message: &message,
    };
    let publication = event::append(connection, context, turn, &event).await?;
    Ok(Changed {
        message,
        publication,
    })
}

impl Store {
    /// Sends a chat message: stores it and appends its `message_created`
    /// publication in one transaction, and answers after the commit. With a
    /// `client_msg_id` seen before from the same author in the channel, it
    /// returns that message and appends nothing.
    pub async fn send_message(&self, new: NewMessage) -> Result<Sent, StoreError> {
        if new.text.is_empty() && new.attachments.is_empty() {
            return Err(StoreError::InvalidInput("the text is empty".into()));
        }
        if new.attachments.len() > crate::MAX_ATTACHMENTS {
            return Err(StoreError::InvalidInput(format!(
                "a message carries at most {} attachments",
                crate::MAX_ATTACHMENTS
            )));
        }
        if new.client_msg_id.as_deref() == Some("") {
            return Err(StoreError::InvalidInput(
                "the client_msg_id is empty".into(),
            ));
        }
        self.submit(|reply| Command::Send { new, reply }).await
    }

    /// Replaces a message's text, keeping the previous text in its edit
    /// trail, and appends `message_updated`. Only the author may edit;
    /// deleted messages are not found.
    pub async fn edit_message(&self, edit: MessageEdit) -> Result<Changed, StoreError> {
        if edit.text.is_empty() {
            return Err(StoreError::InvalidInput("the text is empty".into()));
        }
        self.submit(|reply| Command::Edit {
            edit,
            channel: None,
            reply,
        })
        .await
    }

    /// Deletes a message and appends `message_deleted`. Its author may
    /// soft-delete it; a moderator may soft- or hard-delete anyone's.
    ///
    /// Deleting also clears the message's edit trail and redacts its earlier
    /// events: their stored data is encoded again from the tombstone, so
    /// history and recovery no longer carry the deleted text. That is the
    /// one case where stored data differs from what live subscribers got.
    pub async fn delete_message(&self, delete: MessageDelete) -> Result<Changed, StoreError> {
        self.submit(|reply| Command::Delete {
            delete,
            channel: None,
            reply,
        })
        .await
    }

    /// The message `author` sent before in `channel` with the idempotency
    /// key `client_msg_id`, if any: what a resend is answered with.
    pub async fn sent_message(
        &self,
        app: &str,
        channel: &ChannelName,
        author: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        let Some(mut message) =
            messages::find_sent(&mut connection, app, channel, author, client_msg_id).await?
        else {
            return Ok(None);
        };
        uploads::fill(&mut connection, std::slice::from_mut(&mut message)).await?;
        Ok(Some(message))
    }

    /// A message of the app in its current state; tombstones included.
    pub async fn message(&self, app: &str, id: MessageId) -> Result<Message, StoreError> {
        let mut connection = self.pool().acquire().await?;
        let mut message = messages::find(&mut connection, app, id)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        uploads::fill(&mut connection, std::slice::from_mut(&mut message)).await?;
        Ok(message)
    }

    /// One page of the channel's messages in their current state. The limit
    /// is capped to `1..=MAX_PAGE_SIZE`. A cursor message must belong to the
    /// channel (a hard-deleted one is not found).
    pub async fn messages(
        &self,
        app: &str,
        channel: &ChannelName,
        query: MessageQuery,
    ) -> Result<MessagePage, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let connection = &mut *connection;
        let window = match query.cursor {
            MessageCursor::Newest => Window::new(0, u64::MAX, End::Newest, limit),
            MessageCursor::Oldest => Window::new(0, u64::MAX, End::Oldest, limit),
            MessageCursor::Before(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                Window::new(0, anchor.offset.saturating_sub(1), End::Newest, limit)
            }
            MessageCursor::After(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                Window::new(anchor.offset, u64::MAX, End::Oldest, limit)
            }
            MessageCursor::Around(id) => {
                let anchor = anchor(connection, app, channel, id).await?;
                let older = (limit - 1) / 2;
                let before = Window::new(0, anchor.offset.saturating_sub(1), End::Newest, older);
                let after = Window::new(anchor.offset, u64::MAX, End::Oldest, limit - 1 - older);
                let mut page = messages::range(connection, app, channel, before).await?;
                page.push(anchor);
                page.extend(messages::range(connection, app, channel, after).await?);
                return message_page(connection, app, channel, page, after, query).await;
            }
        };
        let page = messages::range(connection, app, channel, window).await?;
        message_page(connection, app, channel, page, window, query).await
    }

    /// The channel's total: its messages that every reader sees, replies
    /// included and deleted, hidden and shadow ones not, read from a
    /// counter kept in the transaction of each send, delete, hide and show
    /// (never a count of rows). It is the same for every reader: messages
    /// from users one blocked are counted.
    pub async fn message_total(&self, app: &str, channel: &ChannelName) -> Result<u64, StoreError> {
        let mut connection = self.pool().acquire().await?;
        streams::live_messages(&mut connection, app, channel).await
    }

    /// The texts a message had before its edits, oldest first (empty for a
    /// message never edited, and for a deleted one: deleting clears the
    /// trail).
    pub async fn edit_trail(&self, app: &str, id: MessageId) -> Result<Vec<Revision>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        if messages::channel_of(&mut connection, app, id)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound("message"));
        }
        messages::revisions(&mut connection, id).await
    }
}

/// The message a page cursor names, which must be in the channel.
async fn anchor(
    connection: &mut sqlx::AnyConnection,
    app: &str,
    channel: &ChannelName,
    id: MessageId,
) -> Result<Message, StoreError> {
    messages::find(connection, app, id)
        .await?
        .filter(|message| message.channel == *channel)
        .ok_or(StoreError::NotFound("message"))
}

/// A page of `messages` (oldest first, read from `window`) with its
/// `has_older` and `has_newer` (and its total, if asked), in the query's
/// order.
async fn message_page(
    connection: &mut sqlx::AnyConnection,
    app: &str,
    channel: &ChannelName,
    mut messages: Vec<Message>,
    window: Window,
    query: MessageQuery,
) -> Result<MessagePage, StoreError> {
    let (lowest, highest) = page_bounds(
        messages.first().map(|m| m.offset),
        messages.last().map(|m| m.offset),
        window,
    );
    let beyond = sql::beyond(connection, Ordered::Messages, app, channel, lowest, highest).await?;
    uploads::fill(connection, &mut messages).await?;
    if query.order == Order::NewestFirst {
        messages.reverse();
    }
    let total = match query.total {
        true => Some(streams::live_messages(connection, app, channel).await?),
        false => None,
    };
    Ok(MessagePage {
        messages,
        has_older: beyond.older,
        has_newer: beyond.newer,
        total,
    })
}
