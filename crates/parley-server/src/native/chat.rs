//! The native protocol's chat and history commands, and recovery on
//! subscribe.

use parley_core::{ChannelName, Grant, Publication};
use parley_store::{
    HistoryCursor, HistoryQuery, MAX_PAGE_SIZE, MessageCursor, MessageQuery, Order,
};
use serde::{Deserialize, Serialize};

use super::codes::{self, ErrorReply};
use super::session::{AfterReply, NativeSession};
use super::wire;
use crate::chat::{self, Actor, ChatError, SendRequest, json};
use parley_core::Frame;

/// A client's last known stream position, sent with `subscribe`.
#[derive(Debug, Deserialize)]
pub struct Since {
    offset: u64,
    epoch: String,
}

#[derive(Deserialize)]
pub(super) struct MessageSendParams {
    channel: String,
    #[serde(flatten)]
    message: SendRequest,
}

#[derive(Deserialize)]
pub(super) struct MessageEditParams {
    id: String,
    text: String,
}

#[derive(Deserialize)]
pub(super) struct MessageDeleteParams {
    id: String,
    #[serde(default)]
    hard: bool,
}

#[derive(Deserialize)]
pub(super) struct HistoryParams {
    channel: String,
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct MessagesParams {
    channel: String,
    limit: Option<usize>,
    before: Option<String>,
    after: Option<String>,
    around: Option<String>,
    #[serde(default)]
    order: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct IdParams {
    id: String,
}

#[derive(Serialize)]
struct SubscribeResult<'a> {
    channel: &'a str,
    offset: u64,
    epoch: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<bool>,
}

/// The history page size when the client names none.
const DEFAULT_PAGE: usize = 50;

impl NativeSession {
    fn actor(&self) -> Result<Actor, ErrorReply> {
        if self.client.is_anonymous() {
            return Err(ErrorReply::new(
                codes::PERMISSION_DENIED,
                "needs a user token",
            ));
        }
        Ok(Actor {
            user: self.client.user_arc(),
            moderator: self.moderator,
            limited: true,
        })
    }

    /// A channel the client may read: subscribed, or allowed to subscribe.
    fn readable(&self, name: &str) -> Result<ChannelName, ErrorReply> {
        let channel = ChannelName::new(name).map_err(parley_core::Error::from)?;
        if !self.subscriptions.contains(&channel) {
            self.app
                .app
                .check_subscribe(self.client.user(), &channel, Grant::None)?;
        }
        Ok(channel)
    }

    /// After a subscribe: the stream position for the reply, and with
    /// `since`, the replay of what the client missed. The subscription was
    /// made `recovering` when `since` is given, so live publications wait
    /// until the replay is queued.
    pub(super) async fn position_and_replay(
        &mut self,
        id: u64,
        channel: &ChannelName,
        since: Option<Since>,
    ) -> Result<Frame, ErrorReply> {
        let persisted = chat::chat_namespace(&self.app, channel).ok();
        let (position, replay, recovered) = match (&since, persisted) {
            (None, Some(_)) => (
                self.server
                    .store
                    .stream(&self.app.app.id, channel)
                    .await
                    .map_err(ChatError::from)?,
                Vec::new(),
                None,
            ),
            (None, None) => (
                self.server.node.position(&self.app.app, channel).await?,
                Vec::new(),
                None,
            ),
            (Some(since), Some((_, config))) => {
                let recovery = self
                    .server
                    .store
                    .publications_after(
                        &self.app.app.id,
                        channel,
                        since.offset,
                        config.max_recovery,
                    )
                    .await
                    .map_err(ChatError::from)?;
                let recovered = recovery.complete && *recovery.position.epoch == *since.epoch;
                let replay: Vec<Publication> = if recovered {
                    recovery
                        .publications
                        .iter()
                        .map(|publication| publication.to_publication(None))
                        .collect()
                } else {
                    Vec::new()
                };
                (recovery.position, replay, Some(recovered))
            }
            (Some(since), None) => {
                // In-memory streams keep no history: recovered only if
                // nothing was missed.
                let position = self.server.node.position(&self.app.app, channel).await?;
                let recovered = *position.epoch == *since.epoch && position.offset == since.offset;
                (position, Vec::new(), Some(recovered))
            }
        };
        if since.is_some() {
            self.after_reply.push(AfterReply::Replay {
                channel: channel.clone(),
                publications: replay,
                up_to: position.offset,
            });
        }
        Ok(wire::result_frame(
            id,
            &SubscribeResult {
                channel: channel.as_str(),
                offset: position.offset,
                epoch: &position.epoch,
                recovered,
            },
        ))
    }

    pub(super) async fn message_send(
        &mut self,
        id: u64,
        params: MessageSendParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let channel = self.readable(&params.channel)?;
        let message = chat::send(&self.server, &self.app, &channel, &actor, params.message).await?;
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn message_edit(
        &mut self,
        id: u64,
        params: MessageEditParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message = chat::edit(&self.server, &self.app, &params.id, &actor, params.text).await?;
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn message_delete(
        &mut self,
        id: u64,
        params: MessageDeleteParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message =
            chat::delete(&self.server, &self.app, &params.id, &actor, params.hard).await?;
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn history(
        &mut self,
        id: u64,
        params: HistoryParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel)?;
        chat::chat_namespace(&self.app, &channel)?;
        let limit = params.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(ErrorReply::new(
                codes::BAD_REQUEST,
                format!("limit must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let cursor = match (params.before, params.after) {
            (Some(_), Some(_)) => {
                return Err(ErrorReply::new(
                    codes::BAD_REQUEST,
                    "give before or after, not both",
                ));
            }
            (Some(before), None) => HistoryCursor::Before(before),
            (None, Some(after)) => HistoryCursor::After(after),
            (None, None) => HistoryCursor::Newest,
        };
        let page = self
            .server
            .store
            .history(&self.app.app.id, &channel, HistoryQuery { cursor, limit })
            .await
            .map_err(ChatError::from)?;
        let has_more = match cursor {
            HistoryCursor::After(_) | HistoryCursor::Oldest => page.has_newer,
            HistoryCursor::Before(_) | HistoryCursor::Newest => page.has_older,
        };
        let result = format!(
            r#"{{"publications":{},"offset":{},"epoch":{},"has_more":{has_more}}}"#,
            json::publications_json(&page.publications),
            page.position.offset,
            serde_json::to_string(&*page.position.epoch).expect("strings serialize"),
        );
        Ok(wire::raw_result_frame(id, &result))
    }

    pub(super) async fn messages(
        &mut self,
        id: u64,
        params: MessagesParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel)?;
        chat::chat_namespace(&self.app, &channel)?;
        let query = message_query(
            params.before,
            params.after,
            params.around,
            params.order.as_deref(),
            params.limit,
        )?;
        let page = self
            .server
            .store
            .messages(&self.app.app.id, &channel, query)
            .await
            .map_err(ChatError::from)?;
        let result = format!(
            r#"{{"messages":{},"has_older":{},"has_newer":{}}}"#,
            json::messages_json(&page.messages),
            page.has_older,
            page.has_newer
        );
        Ok(wire::raw_result_frame(id, &result))
    }

    pub(super) async fn edit_trail(
        &mut self,
        id: u64,
        params: IdParams,
    ) -> Result<Frame, ErrorReply> {
        if !self.moderator {
            return Err(ErrorReply::new(codes::PERMISSION_DENIED, "moderators only"));
        }
        let message_id = params
            .id
            .parse()
            .map_err(|_| ErrorReply::new(codes::BAD_REQUEST, "not a message id"))?;
        let revisions = self
            .server
            .store
            .edit_trail(&self.app.app.id, message_id)
            .await
            .map_err(ChatError::from)?;
        let result = format!(r#"{{"revisions":{}}}"#, json::revisions_json(&revisions));
        Ok(wire::raw_result_frame(id, &result))
    }
}

/// A message page query from its cursor parameters (at most one of
/// `before`, `after`, `around`).
pub fn message_query(
    before: Option<String>,
    after: Option<String>,
    around: Option<String>,
    order: Option<&str>,
    limit: Option<usize>,
) -> Result<MessageQuery, ErrorReply> {
    let parse = |id: String| {
        id.parse()
            .map_err(|_| ErrorReply::new(codes::BAD_REQUEST, format!("{id:?} is not a message id")))
    };
    let cursor = match (before, after, around) {
        (None, None, None) => MessageCursor::Newest,
        (Some(id), None, None) => MessageCursor::Before(parse(id)?),
        (None, Some(id), None) => MessageCursor::After(parse(id)?),
        (None, None, Some(id)) => MessageCursor::Around(parse(id)?),
        _ => {
            return Err(ErrorReply::new(
                codes::BAD_REQUEST,
                "give one of before, after or around",
            ));
        }
    };
    let order = match order {
        None | Some("newest_first") => Order::NewestFirst,
        Some("oldest_first") => Order::OldestFirst,
        Some(other) => {
            return Err(ErrorReply::new(
                codes::BAD_REQUEST,
                format!("order {other:?} is not newest_first or oldest_first"),
            ));
        }
    };
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ErrorReply::new(
            codes::BAD_REQUEST,
            format!("limit must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(MessageQuery {
        cursor,
        order,
        limit,
    })
}
