//! The native protocol's chat and history commands, and recovery on
//! subscribe.

use parley_core::{ChannelName, Grant};
use parley_store::DeleteMode;
use serde::{Deserialize, Serialize};

use super::codes::{self, ErrorReply};
use super::session::{AfterReply, NativeSession};
use super::wire;
use crate::chat::{self, Actor, SendRequest};
use crate::json;
use parley_core::Frame;

/// A client's last known stream position, sent with `subscribe`.
#[derive(Debug, Deserialize)]
pub struct Since {
    offset: u64,
    epoch: String,
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
    #[serde(default)]
    total: bool,
}

#[derive(Deserialize)]
pub(super) struct MessagesParams {
    channel: String,
    #[serde(flatten)]
    cursor: chat::MessagesCursor,
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

impl NativeSession {
    pub(super) fn actor(&self) -> Result<Actor, ErrorReply> {
        if self.client.is_anonymous() {
            return Err(ErrorReply::new(
                codes::PERMISSION_DENIED,
                "needs a user token",
            ));
        }
        Ok(Actor {
            user: self.client.user_arc(),
            profile: self.profile.clone(),
            moderator: self.moderator,
            limited: true,
        })
    }

    /// What this connection's user may see of a channel's messages (of
    /// every channel without one: then only token roles moderate).
    pub(super) async fn viewer(
        &self,
        channel: Option<&ChannelName>,
    ) -> Result<chat::moderation::Viewer, ErrorReply> {
        if self.client.is_anonymous() {
            return Ok(chat::moderation::Viewer {
                user: Some(self.client.user_arc()),
                ..Default::default()
            });
        }
        Ok(chat::moderation::viewer(&self.chat, &self.app, channel, &self.actor()?).await?)
    }

    /// A channel the client may read: subscribed, or allowed to subscribe;
    /// and for a room's channel, only while the user is a member.
    pub(super) async fn readable(&self, name: &str) -> Result<ChannelName, ErrorReply> {
        let channel = ChannelName::new(name).map_err(parley_core::Error::from)?;
        if !self.subscriptions.contains(&channel) {
            self.app
                .app
                .check_subscribe(self.client.user(), &channel, Grant::None)?;
        }
        chat::rooms::check_member(&self.chat, &self.app, &channel, self.client.user()).await?;
        Ok(channel)
    }

    /// After a subscribe: the stream position for the reply, and with
    /// `since`, the replay of what the client missed. The subscription was
    /// made `recovering`, so live publications wait until the reply (and
    /// the replay) is queued; then those past the position follow, and none
    /// at or below it.
    pub(super) async fn position_and_replay(
        &mut self,
        id: u64,
        channel: &ChannelName,
        since: Option<Since>,
    ) -> Result<Frame, ErrorReply> {
        let node = &self.server.node;
        let (position, replay, recovered) = match since {
            None => (
                node.position(&self.app.app, channel).await?,
                Vec::new(),
                None,
            ),
            Some(since) => {
                let slice = node.recover(&self.app.app, channel, since.offset).await?;
                let recovered = slice.complete && *slice.position.epoch == *since.epoch;
                let replay = if recovered {
                    // The completeness check above counted every offset;
                    // what this viewer may not see is left out only now,
                    // by the rule and the block list the live fan-out uses.
                    let viewer = chat::moderation::Viewer::of_hub(
                        self.client.user_arc(),
                        self.app.app.hub.blocks(),
                    );
                    slice
                        .publications
                        .into_iter()
                        .filter(|publication| viewer.sees(publication))
                        .collect()
                } else {
                    Vec::new()
                };
                (slice.position, replay, Some(recovered))
            }
        };
        self.after_reply.push(AfterReply::Replay {
            channel: channel.clone(),
            publications: replay,
            up_to: position.clone(),
        });
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
        params: SendRequest,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        if params.user.is_some() {
            return Err(ErrorReply::new(
                codes::BAD_REQUEST,
                "users send as themselves: drop user",
            ));
        }
        let name = params.channel.as_deref().ok_or_else(|| {
            ErrorReply::new(
                codes::BAD_REQUEST,
                "invalid params: missing field `channel`",
            )
        })?;
        let channel = self.readable(name).await?;
        let message = chat::send(&self.chat, &self.app, &channel, &actor, params)
            .await?
            .into_message();
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn message_edit(
        &mut self,
        id: u64,
        params: MessageEditParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message = chat::edit(&self.chat, &self.app, &params.id, &actor, params.text).await?;
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn message_delete(
        &mut self,
        id: u64,
        params: MessageDeleteParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message = chat::delete(
            &self.chat,
            &self.app,
            &params.id,
            &actor,
            DeleteMode::from_hard(params.hard),
        )
        .await?;
        Ok(wire::raw_result_frame(id, &json::message_json(&message)))
    }

    pub(super) async fn history(
        &mut self,
        id: u64,
        params: HistoryParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel).await?;
        chat::moderation::check_subscribe(&self.chat, &self.app, &channel, self.client.user())
            .await?;
        let viewer = self.viewer(Some(&channel)).await?;
        let page = chat::history_json(
            &self.chat,
            &self.app,
            &channel,
            chat::HistoryRange {
                before: params.before,
                after: params.after,
                limit: params.limit,
                total: params.total,
            },
            &viewer,
        )
        .await?;
        Ok(wire::raw_result_frame(id, &page))
    }

    pub(super) async fn messages(
        &mut self,
        id: u64,
        params: MessagesParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel).await?;
        chat::moderation::check_subscribe(&self.chat, &self.app, &channel, self.client.user())
            .await?;
        let viewer = self.viewer(Some(&channel)).await?;
        let page = chat::messages(&self.chat, &self.app, &channel, params.cursor, &viewer).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::pages::message_page_json(&page),
        ))
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
        let revisions = chat::edit_trail(&self.chat, &self.app, message_id).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::edit_trail_json(&revisions),
        ))
    }
}
