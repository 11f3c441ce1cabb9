//! The JSON shape of chat messages and stored publications.

use std::fmt::Write;

use bytes::Bytes;
use parley_store::{EventKind, Message, MessageEventEncoder, Revision, StoredPublication};

/// Encodes message events for the store: the payload of `message_created`,
/// `message_updated` and `message_deleted` is the message as it is after the
/// change.
#[derive(Debug, Default)]
pub struct MessageJson;

impl MessageEventEncoder for MessageJson {
    fn encode(&self, _: EventKind, message: &Message) -> Bytes {
        Bytes::from(message_json(message))
    }
}

fn quoted(out: &mut String, value: &str) {
    out.push_str(&serde_json::to_string(value).expect("strings serialize to JSON"));
}

/// `{"id":"12","channel":…,"offset":5,"author":…,"text":…,"reply_to"?,
/// "client_msg_id"?,"meta"?,"created_at":ms,"edited_at"?,"deleted_at"?,
/// "status"?}`. A hidden message has `"status":"hidden"`, an empty text and
/// no meta: this is what everyone but moderators sees.
pub fn message_json(message: &Message) -> String {
    write_message(message, false)
}

/// A message as moderators see it: a hidden one keeps its text and meta,
/// with `"status":"hidden"`.
pub fn message_json_revealed(message: &Message) -> String {
    write_message(message, true)
}

fn write_message(message: &Message, reveal: bool) -> String {
    let concealed = message.hidden && !reveal;
    let mut out = String::with_capacity(128 + message.text.len());
    let _ = write!(out, r#"{{"id":"{}","channel":"#, message.id);
    quoted(&mut out, message.channel.as_str());
    let _ = write!(out, r#","offset":{},"author":"#, message.offset);
    quoted(&mut out, &message.author);
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
        out.push_str(std::str::from_utf8(meta).expect("meta is validated JSON text"));
    }
    let _ = write!(out, r#","created_at":{}"#, message.created_at.as_millis());
    if let Some(edited_at) = message.edited_at {
        let _ = write!(out, r#","edited_at":{}"#, edited_at.as_millis());
    }
    if let Some(deleted_at) = message.deleted_at {
        let _ = write!(out, r#","deleted_at":{}"#, deleted_at.as_millis());
    }
    if message.hidden {
        out.push_str(r#","status":"hidden""#);
    }
    out.push('}');
    out
}

/// `[{"kind":…,"offset":…,"data":…,"created_at":ms}, …]`.
pub fn publications_json(publications: &[StoredPublication]) -> String {
    let mut out = String::from("[");
    for (index, publication) in publications.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"kind":"{}","offset":{},"data":{},"created_at":{}}}"#,
            publication.kind,
            publication.position.offset,
            std::str::from_utf8(&publication.data).expect("stored data is JSON text"),
            publication.created_at.as_millis()
        );
    }
    out.push(']');
    out
}

/// `[{"kind":…,"offset":…,"data":…}, …]` for publications kept in memory.
pub fn memory_publications_json(
    publications: &[std::sync::Arc<parley_core::Publication>],
) -> String {
    let parts: Vec<String> = publications
        .iter()
        .map(|publication| {
            format!(
                r#"{{"kind":"{}","offset":{},"data":{}}}"#,
                publication.kind.as_str(),
                publication.position.offset,
                std::str::from_utf8(&publication.data).expect("publication data is JSON text")
            )
        })
        .collect();
    format!("[{}]", parts.join(","))
}

/// `[message, …]`, hidden ones revealed when `reveal` (for moderators).
pub fn messages_json(messages: &[&Message], reveal: bool) -> String {
    let parts: Vec<String> = messages
        .iter()
        .map(|message| write_message(message, reveal))
        .collect();
    format!("[{}]", parts.join(","))
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
