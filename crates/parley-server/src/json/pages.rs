//! The JSON of pages of messages as a viewer sees them: a channel's
//! messages, a thread, search matches. Each message is written with its
//! reactions, and a hidden one revealed only to moderators
//! ([`message_with_reactions_json`]).

use serde_json::{Value, json};

use super::message_with_reactions_json;
use crate::chat::search::Matches;
use crate::chat::threads::Thread;
use crate::chat::{MessagePage, SeenMessage};

/// A message as its viewer sees it.
pub fn seen_message_json(seen: &SeenMessage) -> String {
    message_with_reactions_json(&seen.message, &seen.reactions, seen.revealed)
}

/// `[message, …]`, without the brackets.
fn joined(messages: &[SeenMessage]) -> String {
    messages
        .iter()
        .map(seen_message_json)
        .collect::<Vec<_>>()
        .join(",")
}

/// `{"messages": [...], "has_older", "has_newer", "total"?}`.
pub fn message_page_json(page: &MessagePage) -> String {
    format!(
        r#"{{"messages":[{}],"has_older":{},"has_newer":{}{}}}"#,
        joined(&page.messages),
        page.has_older,
        page.has_newer,
        total_field(page.total)
    )
}

/// `,"total":N` when a page was asked for its channel's total; nothing
/// otherwise.
pub fn total_field(total: Option<u64>) -> String {
    total.map_or_else(String::new, |total| format!(r#","total":{total}"#))
}

/// `{"messages": [newest first], "has_more"}`.
pub fn matches_json(matches: &Matches) -> String {
    format!(
        r#"{{"messages":[{}],"has_more":{}}}"#,
        joined(&matches.messages),
        matches.has_more
    )
}

/// `{"parent": message, "replies": [oldest first], "has_more"}`.
pub fn thread_json(thread: &Thread) -> String {
    let value = |seen: &SeenMessage| {
        serde_json::from_str::<Value>(&seen_message_json(seen)).unwrap_or(Value::Null)
    };
    json!({
        "parent": thread.parent.as_ref().map_or(Value::Null, value),
        "replies": thread.replies.iter().map(value).collect::<Vec<Value>>(),
        "has_more": thread.has_more,
    })
    .to_string()
}
