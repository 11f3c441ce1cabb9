//! Threads: a message's replies (`reply_to`), paginated on their own.
//!
//! Sending a reply counts it on its parent (`reply_count`, and the latest
//! three `repliers`) in the same transaction, and appends the parent's
//! `message_updated`, so subscribers' counts stay current.

use parley_store::MessageId;
use serde_json::{Value, json};

use super::moderation::Viewer;
use super::{ChatError, chat_namespace, page_limit, parse_id, rooms, visible_json};
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
    viewer: &Viewer,
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
    // The parent must be one the viewer sees; replies they may not see
    // leave the page, as in `messages`.
    if !super::moderation::sees_message(viewer, &page.parent) {
        return Err(ChatError::Store(parley_store::StoreError::NotFound(
            "message",
        )));
    }
    let parse = |json: &String| serde_json::from_str::<Value>(json).unwrap_or(Value::Null);
    let parent = visible_json(server, std::slice::from_ref(&page.parent), viewer).await?;
    let replies = visible_json(server, &page.replies, viewer).await?;
    let replies: Vec<Value> = replies.iter().map(parse).collect();
    let json = json!({
        "parent": parent.first().map_or(Value::Null, parse),
        "replies": replies,
        "has_more": page.has_more,
    });
    Ok((channel, json.to_string()))
}
