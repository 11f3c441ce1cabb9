//! Full-text search over message text: `search`.
//!
//! Words are matched as whole words (no stemming, case-insensitive), every
//! word must occur; newest matches first, paginated with `before` (the last
//! id of the previous page). With a `channel`, the search covers that
//! channel, which the user must be able to read; without one, every room
//! the user is a member of. Deleted messages never match, and the results
//! show only what the reader would see in a page of `messages` (the same
//! [`Viewer`] filter: no one else's shadow messages, nothing from blocked
//! users, hidden messages concealed unless the reader moderates), so a
//! page may hold fewer than `limit`.

use parley_core::ChannelName;
use parley_store::{SearchQuery, SearchScope};

use super::moderation::Viewer;
use super::{Chat, ChatError, SeenMessage, chat_namespace, page_limit, parse_id, visible};
use crate::state::AppContext;

/// The most words a query may hold.
pub const MAX_WORDS: usize = 16;

/// The words of a query: runs of letters and digits, lowercased.
pub fn words(query: &str) -> Result<Vec<String>, ChatError> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Err(ChatError::Invalid("the query has no words".into()));
    }
    if words.len() > MAX_WORDS {
        return Err(ChatError::Invalid(format!(
            "the query has more than {MAX_WORDS} words"
        )));
    }
    Ok(words)
}

/// A page of matches, as the viewer sees them.
#[derive(Debug)]
pub struct Matches {
    /// The matching messages, newest first.
    pub messages: Vec<SeenMessage>,
    /// Whether older matches are left.
    pub has_more: bool,
}

/// The messages matching `query`, newest first. `channel` must be one the
/// viewer may read (the caller checks); `None` searches the viewing user's
/// rooms.
pub async fn search(
    chat: &Chat,
    app: &AppContext,
    channel: Option<&ChannelName>,
    query: &str,
    before: Option<&str>,
    limit: Option<usize>,
    viewer: &Viewer,
) -> Result<Matches, ChatError> {
    let words = words(query)?;
    let scope = match channel {
        Some(channel) => {
            chat_namespace(app, channel)?;
            SearchScope::Channel(channel.clone())
        }
        None => SearchScope::RoomsOf(viewer.user.as_deref().unwrap_or_default().to_owned()),
    };
    let page = chat
        .store()
        .search(
            &app.app.id,
            SearchQuery {
                words,
                scope,
                before: before.map(parse_id).transpose()?,
                limit: page_limit(limit)?,
            },
        )
        .await?;
    Ok(Matches {
        messages: visible(chat, page.messages, viewer).await?,
        has_more: page.has_more,
    })
}
