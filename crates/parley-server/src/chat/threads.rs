//! Threads: a message's replies (`reply_to`), paginated on their own.
//!
//! Sending a reply counts it on its parent (`reply_count`, and the latest
//! three `repliers`) in the same transaction, and appends the parent's
//! `message_updated`, so subscribers' counts stay current.

use parley_store::MessageId;
use serde_json::{Value, json};

use super::{ChatError, chat_namespace, json as message_json, page_limit, parse_id, rooms};
use crate::state::{AppContext, ServerState};

/// `{"parent": message, "replies": [oldest first], "has_more"}`: the newest
/// `limit` replies to message `id`, or those before the reply `before`.
/// `user` must be able to read the parent's channel (its member, for a
/// room); the caller checked the channel's other rules.
pub async fn thread_json(
    server: &ServerState,
    app: &AppContext,
    user: Option<&str>,
    id: &str,
    before: Option<&str>,
    limit: Option<usize>,
) -> Result<(parley_core::ChannelName, String), ChatError> {
    let parent = parse_id(id)?;
    let before: Option<MessageId> = before.map(parse_id).transpose()?;
    let limit = page_limit(limit)?;
    let page = server
        .store
        .thread(&app.app.id, parent, before, limit)
        .await?;
    let channel = page.parent.channel.clone();
    chat_namespace(app, &channel)?;
    if let Some(user) = user {
        rooms::check_member(server, app, &channel, user).await?;
    }
    let parse = |message| {
        serde_json::from_str::<Value>(&message_json::message_json(message)).unwrap_or(Value::Null)
    };
    let replies: Vec<Value> = page.replies.iter().map(parse).collect();
    let json = json!({
        "parent": parse(&page.parent),
        "replies": replies,
        "has_more": page.has_more,
    });
    Ok((channel, json.to_string()))
}
