//! The JSON of chat, which the native protocol and the HTTP API share:
//! chat operations return domain types, and the adapters write them with
//! these functions. The store's event encoders ([`MessageJson`],
//! [`rooms::members_event_data`], [`reads::marker_data`]) write the
//! payloads of durable events with them too.
//!
//! This file writes messages, uploads, reactions and stored publications;
//! its modules write the rest:
//! - [`pages`]: pages of messages as a viewer sees them (a channel's
//!   messages, a thread, search matches);
//! - [`rooms`]: rooms, their members and room lists;
//! - [`reads`]: read markers and unread counts;
//! - [`moderation`]: restrictions, block lists and reports;
//! - [`documents`]: live documents, their lists and queries;
//! - [`schema`]: the shapes of all of these, for the OpenAPI document.

pub mod documents;
pub mod moderation;
pub mod pages;
pub mod reads;
pub mod rooms;
pub mod schema;

use parley_store::ReactionAction;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parley_core::{ChannelName, HistoryEntry, PublicationKind};
use parley_store::{
    Message, MessageEventEncoder, Reacted, ReactionCount, ReactionEvent, Revision, Upload,
};

/// Encodes message events for the store: the payload of `message_created`,
/// `message_updated` and `message_deleted` is the message as it is after the
/// change.
#[derive(Debug, Default)]
pub struct MessageJson;

impl MessageEventEncoder for MessageJson {
    fn encode(&self, _: PublicationKind, message: &Message) -> Bytes {
        Bytes::from(message_json(message))
    }

    fn encode_reaction(&self, _: PublicationKind, reaction: &ReactionEvent) -> Bytes {
        Bytes::from(reaction_event_json(reaction))
    }
}

fn quoted(out: &mut String, value: &str) {
    out.push_str(&serde_json::to_string(value).expect("strings serialize to JSON"));
}

/// `{"id":"12","channel":…,"offset":5,"author":…,"author_name"?,
/// "author_avatar"?,"text":…,"reply_to"?,
/// "client_msg_id"?,"meta"?,"attachments"?,"created_at":ms,"edited_at"?,
/// "deleted_at"?,"reply_count"?,"repliers"?,"mentions"?,"status"?}`:
/// `reply_count` and `repliers` (the latest, newest first) only once the
/// message has replies, `mentions` only when it mentions someone. A hidden
/// message has `"status":"hidden"`, an empty text and no meta, attachments
/// nor mentions: this is what everyone but moderators sees.
pub fn message_json(message: &Message) -> String {
    let mut out = message_fields(message, false);
    out.push('}');
    out
}

/// A message as moderators see it: a hidden one keeps its text, meta and
/// attachments, with `"status":"hidden"`.
pub fn message_json_revealed(message: &Message) -> String {
    let mut out = message_fields(message, true);
    out.push('}');
    out
}

/// A message as a read shows it: [`message_json`] (or, with `reveal`,
/// [`message_json_revealed`]) with its reactions, `"reactions":{emoji:
/// {"count", "me"}}` (an empty object when it has none). A hidden message
/// shows no reactions to those it is concealed from, like its text.
pub fn message_with_reactions_json(
    message: &Message,
    reactions: &[ReactionCount],
    reveal: bool,
) -> String {
    let mut out = message_fields(message, reveal);
    out.push_str(r#","reactions":"#);
    let concealed = message.hidden && !reveal;
    out.push_str(&reactions_json(if concealed { &[] } else { reactions }));
    out.push('}');
    out
}

/// The message's object without its closing brace; a hidden message's
/// text, meta and attachments are left out unless `reveal`.
fn message_fields(message: &Message, reveal: bool) -> String {
    let concealed = message.hidden && !reveal;
    let mut out = String::with_capacity(128 + message.text.len());
    let _ = write!(out, r#"{{"id":"{}","channel":"#, message.id);
    quoted(&mut out, message.channel.as_str());
    let _ = write!(out, r#","offset":{},"author":"#, message.offset);
    quoted(&mut out, &message.author);
    if let Some(name) = &message.author_name {
        out.push_str(r#","author_name":"#);
        quoted(&mut out, name);
    }
    if let Some(avatar) = &message.author_avatar {
        out.push_str(r#","author_avatar":"#);
        quoted(&mut out, avatar);
    }
    out.push_str(r#","text":"#);
    quoted(&mut out, if concealed { "" } else { &message.text });
    if let Some(reply_to) = message.reply_to {
        let _ = write!(out, r#","reply_to":"{reply_to}""#);
    }
    if let Some(client_msg_id) = &message.client_msg_id {
        out.push_str(r#","client_msg_id":"#);
        quoted(&mut out, client_msg_id);
    }
    if let Some(meta) = message.meta.as_ref().filter(|_| !concealed) {
        out.push_str(r#","meta":"#);
        // Validated JSON when sent, and checked to be UTF-8 when read back
        // (the store's rows); `null` rather than a panic if that ever broke.
        out.push_str(std::str::from_utf8(meta).unwrap_or("null"));
    }
    if !message.attachments.is_empty() && !concealed {
        let parts: Vec<String> = message.attachments.iter().map(upload_json).collect();
        let _ = write!(out, r#","attachments":[{}]"#, parts.join(","));
    }
    let _ = write!(out, r#","created_at":{}"#, message.created_at.as_millis());
    if let Some(edited_at) = message.edited_at {
        let _ = write!(out, r#","edited_at":{}"#, edited_at.as_millis());
    }
    if let Some(deleted_at) = message.deleted_at {
        let _ = write!(out, r#","deleted_at":{}"#, deleted_at.as_millis());
    }
    if message.reply_count > 0 {
        let _ = write!(out, r#","reply_count":{},"repliers":"#, message.reply_count);
        users(&mut out, &message.repliers);
    }
    if !message.mentions.is_empty() && !concealed {
        out.push_str(r#","mentions":"#);
        users(&mut out, &message.mentions);
    }
    if message.hidden {
        out.push_str(r#","status":"hidden""#);
    }
    out
}

/// `["u1","u2"]`.
fn users(out: &mut String, users: &[String]) {
    out.push('[');
    for (index, user) in users.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        quoted(out, user);
    }
    out.push(']');
}

/// The path an upload is served at.
pub fn upload_url(upload: &Upload) -> String {
    format!("/api/v1/uploads/{}", upload.id)
}

/// `{"id","content_type","size","width"?,"height"?,"url","thumbnail"?:
/// {"url","content_type","size","width","height"},"owner","created_at"}`:
/// an upload, as the upload reply and message attachments describe it.
/// URLs are paths on the server that answered.
pub fn upload_json(upload: &Upload) -> String {
    let url = upload_url(upload);
    let mut out = format!(r#"{{"id":"{}","content_type":"#, upload.id);
    quoted(&mut out, &upload.content_type);
    let _ = write!(out, r#","size":{}"#, upload.size);
    if let Some(dimensions) = upload.dimensions {
        let _ = write!(
            out,
            r#","width":{},"height":{}"#,
            dimensions.width, dimensions.height
        );
    }
    let _ = write!(out, r#","url":"{url}""#);
    if let Some(thumbnail) = &upload.thumbnail {
        let _ = write!(
            out,
            r#","thumbnail":{{"url":"{url}/thumbnail","content_type":"#
        );
        quoted(&mut out, &thumbnail.content_type);
        let _ = write!(
            out,
            r#","size":{},"width":{},"height":{}}}"#,
            thumbnail.size, thumbnail.dimensions.width, thumbnail.dimensions.height
        );
    }
    out.push_str(r#","owner":"#);
    quoted(&mut out, &upload.owner);
    let _ = write!(out, r#","created_at":{}}}"#, upload.created_at.as_millis());
    out
}

/// `{"uploads": [upload, ...], "next"?}`: a page of a user's uploads,
/// newest first; `next` is the cursor of the following page.
pub fn upload_page_json(page: &parley_store::UploadPage) -> String {
    let mut out = String::from(r#"{"uploads":["#);
    for (index, upload) in page.uploads.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&upload_json(upload));
    }
    out.push(']');
    if let Some(next) = &page.next {
        let _ = write!(out, r#","next":"{next}""#);
    }
    out.push('}');
    out
}

/// `{"channel","message_id"?,"user","emoji","count"}`: the data of a
/// `reaction_added` or `reaction_removed` event; `count` is the emoji's
/// count on its target after the change.
pub fn reaction_event_json(reaction: &ReactionEvent) -> String {
    let mut out = String::from(r#"{"channel":"#);
    quoted(&mut out, reaction.channel.as_str());
    if let Some(id) = reaction.message_id {
        let _ = write!(out, r#","message_id":"{id}""#);
    }
    out.push_str(r#","user":"#);
    quoted(&mut out, &reaction.user);
    out.push_str(r#","emoji":"#);
    quoted(&mut out, &reaction.emoji);
    let _ = write!(out, r#","count":{}}}"#, reaction.count);
    out
}

/// `{emoji: {"count": n, "me": bool}, …}`, in the order given.
pub fn reactions_json(reactions: &[ReactionCount]) -> String {
    let parts: Vec<String> = reactions
        .iter()
        .map(|reaction| {
            let mut out = String::new();
            quoted(&mut out, &reaction.emoji);
            let _ = write!(
                out,
                r#":{{"count":{},"me":{}}}"#,
                reaction.count, reaction.me
            );
            out
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The reply to a reaction change: the event's fields, `"me"` (whether the
/// actor now reacts with the emoji) and `"changed"` (false when the
/// reaction was already there, or already gone).
pub fn reacted_json(reacted: &Reacted, action: ReactionAction) -> String {
    let me = action == ReactionAction::Add;
    let event = reaction_event_json(&reacted.event);
    format!(
        r#"{},"me":{me},"changed":{}}}"#,
        event.strip_suffix('}').expect("an event is a JSON object"),
        reacted.publication.is_some()
    )
}

/// `{"channel": …, "reactions": {emoji: {"count", "me"}}}`: the reactions
/// to a channel itself.
pub fn channel_reactions_json(channel: &ChannelName, reactions: &[ReactionCount]) -> String {
    let mut out = String::from(r#"{"channel":"#);
    quoted(&mut out, channel.as_str());
    let _ = write!(out, r#","reactions":{}}}"#, reactions_json(reactions));
    out
}

/// `[{"kind":…,"offset":…,"data":…,"created_at"?:ms}, …]`: a history
/// page's publications; `created_at` where the store kept the time (a
/// transient stream keeps none).
pub fn publications_json(entries: &[HistoryEntry]) -> String {
    let mut out = String::from("[");
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let publication = &entry.publication;
        let _ = write!(
            out,
            r#"{{"kind":"{}","offset":{},"data":{}"#,
            publication.kind,
            publication.position.offset,
            // Checked to be UTF-8 when read back from the store, and JSON
            // when published; `null` rather than a panic if that ever broke.
            std::str::from_utf8(&publication.data).unwrap_or("null"),
        );
        if let Some(created_at) = entry.created_at {
            let _ = write!(out, r#","created_at":{}"#, unix_millis(created_at));
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// Milliseconds since the Unix epoch (negative before it), as the JSON of
/// stored times shows them.
fn unix_millis(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    }
}

/// `[message, …]`, hidden ones revealed when `reveal` (for moderators).
pub fn messages_json(messages: &[&Message], reveal: bool) -> String {
    let parts: Vec<String> = messages
        .iter()
        .map(|message| {
            let mut out = message_fields(message, reveal);
            out.push('}');
            out
        })
        .collect();
    format!("[{}]", parts.join(","))
}

/// `{"revisions": [...]}`: a message's edit trail.
pub fn edit_trail_json(revisions: &[Revision]) -> String {
    format!(r#"{{"revisions":{}}}"#, revisions_json(revisions))
}

/// `[{"revision":1,"text":…,"replaced_at":ms}, …]`.
pub fn revisions_json(revisions: &[Revision]) -> String {
    let parts: Vec<String> = revisions
        .iter()
        .map(|revision| {
            let mut out = format!(r#"{{"revision":{},"text":"#, revision.number);
            quoted(&mut out, &revision.text);
            let _ = write!(
                out,
                r#","replaced_at":{}}}"#,
                revision.replaced_at.as_millis()
            );
            out
        })
        .collect();
    format!("[{}]", parts.join(","))
}
