//! Threads: a message's replies (`reply_to`), paginated on their own.
//!
//! Sending a reply counts it on its parent (`reply_count`, and the latest
//! three `repliers`) in the same transaction, and appends the parent's
//! `message_updated`, so subscribers' counts stay current.

use parley_core::ChannelName;
use parley_store::MessageId;

use super::moderation::Viewer;
use super::{Chat, ChatError, SeenMessage, chat_namespace, page_limit, parse_id, rooms, visible};
use crate::state::AppContext;

/// A message and a page of its replies, as the viewer sees them.
#[derive(Debug)]
pub struct Thread {
    /// The parent's channel.
    pub channel: ChannelName,
    /// The parent message.
    pub parent: Option<SeenMessage>,
    /// The replies, oldest first.
    pub replies: Vec<SeenMessage>,
    /// Whether older replies are left.
    pub has_more: bool,
}

/// The newest `limit` replies to message `id`, or those before the reply
/// `before`, with the parent. `user` must be able to read the parent's
/// channel (its member, for a room); the caller checked the channel's
/// other rules.
pub async fn thread(
    chat: &Chat,
    app: &AppContext,
    user: Option<&str>,
    id: &str,
    before: Option<&str>,
    limit: Option<usize>,
    viewer: &Viewer,
) -> Result<Thread, ChatError> {
    let parent = parse_id(id)?;
    let before: Option<MessageId> = before.map(parse_id).transpose()?;
    let limit = page_limit(limit)?;
    let page = chat
        .store()
        .thread(&app.app.id, parent, before, limit)
        .await?;
    let channel = page.parent.channel.clone();
    chat_namespace(app, &channel)?;
    if let Some(user) = user {
        rooms::check_member(chat, app, &channel, user).await?;
    }
    // The parent must be one the viewer sees; replies they may not see
    // leave the page, as in `messages`.
    if !super::moderation::sees_message(viewer, &page.parent) {
        return Err(ChatError::Store(parley_store::StoreError::NotFound(
            "message",
        )));
    }
    let parent = visible(chat, vec![page.parent], viewer).await?;
    Ok(Thread {
        channel,
        parent: parent.into_iter().next(),
        replies: visible(chat, page.replies, viewer).await?,
        has_more: page.has_more,
    })
}
