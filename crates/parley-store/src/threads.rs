//! Threads: the replies to a message. A reply is a message with `reply_to`;
//! sending one counts it on its parent (and appends the parent's
//! `message_updated`), and [`Store::thread`] pages through the replies.

use sqlx::AnyConnection;

use crate::commands::Context;
use crate::event::{self, Turn};
use crate::messages::MessageEvent;
use crate::sql::{messages, threads, uploads};
use crate::{Changed, MAX_PAGE_SIZE, Message, MessageId, Store, StoreError};

/// One page of a thread: replies to one message, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    /// The message the thread answers.
    pub parent: Message,
    /// The replies, oldest first.
    pub replies: Vec<Message>,
    /// Whether older replies exist.
    pub has_more: bool,
}

impl Store {
    /// One page of the replies to a message, oldest first: the newest
    /// `limit`, or those before the reply `before`.
    pub async fn thread(
        &self,
        app: &str,
        parent: MessageId,
        before: Option<MessageId>,
        limit: usize,
    ) -> Result<ThreadPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let connection = &mut *connection;
        let mut parent = messages::find(connection, app, parent)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        uploads::fill(connection, std::slice::from_mut(&mut parent)).await?;
        let before_offset = match before {
            None => u64::MAX,
            Some(id) => {
                messages::find(connection, app, id)
                    .await?
                    .filter(|reply| reply.reply_to == Some(parent.id))
                    .ok_or(StoreError::NotFound("reply"))?
                    .offset
            }
        };
        let mut replies =
            threads::replies(connection, app, &parent, before_offset, limit + 1).await?;
        let has_more = replies.len() > limit;
        replies.truncate(limit);
        replies.reverse();
        uploads::fill(connection, &mut replies).await?;
        Ok(ThreadPage {
            parent,
            replies,
            has_more,
        })
    }
}

/// Counts a new reply on its parent and appends the parent's
/// `message_updated`, so subscribers see the thread's count move.
pub(crate) async fn count_reply(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    app: &str,
    reply: &Message,
) -> Result<Option<Box<Changed>>, StoreError> {
    let Some(parent_id) = reply.reply_to else {
        return Ok(None);
    };
    let Some(parent) = messages::find(connection, app, parent_id).await? else {
        return Ok(None);
    };
    let parent = threads::count_reply(connection, parent, &reply.author).await?;
    let turn = Turn::take(connection, context, app, &reply.channel).await?;
    let event = MessageEvent {
        kind: Message::UPDATED,
        message: &parent,
    };
    let publication = event::append(connection, context, turn, &event).await?;
    Ok(Some(Box::new(Changed {
        message: parent,
        publication,
    })))
}
