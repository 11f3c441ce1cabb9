//! Full-text search over message text: FTS5 on SQLite, `tsvector` on
//! PostgreSQL (`sql/search.rs`).

use parley_core::ChannelName;

use crate::sql::{search, uploads};
use crate::{MAX_PAGE_SIZE, Message, MessageId, Store, StoreError};

/// Where a search looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// One channel (the caller checked that the user may read it).
    Channel(ChannelName),
    /// Every room the user is a member of.
    RoomsOf(String),
}

/// A full-text search over message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words to find; every word must occur.
    pub words: Vec<String>,
    /// Where to look.
    pub scope: SearchScope,
    /// Only messages older than this one (the previous page's last).
    pub before: Option<MessageId>,
    /// Messages per page, capped to `1..=MAX_PAGE_SIZE`.
    pub limit: usize,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// The matching messages, never deleted ones.
    pub messages: Vec<Message>,
    /// Whether older matches exist.
    pub has_more: bool,
}

impl Store {
    /// Full-text search over message text, newest first; never deleted
    /// messages. The caller checks that the user may read the scope.
    pub async fn search(&self, app: &str, query: SearchQuery) -> Result<SearchPage, StoreError> {
        if query.words.is_empty() {
            return Err(StoreError::InvalidInput("the query has no words".into()));
        }
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let mut messages =
            search::search(&mut connection, self.backend(), app, &query, limit + 1).await?;
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        uploads::fill(&mut connection, &mut messages).await?;
        Ok(SearchPage { messages, has_more })
    }
}
