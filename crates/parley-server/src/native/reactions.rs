//! The native protocol's reaction commands: `reaction_add`,
//! `reaction_remove` and `reactions`.

use parley_store::ReactionAction;
use serde::Deserialize;

use super::codes::ErrorReply;
use super::session::NativeSession;
use super::wire;
use crate::chat::reactions::{self, ReactionRequest};
use crate::json;
use parley_core::Frame;

#[derive(Deserialize)]
pub(super) struct ReactionsParams {
    channel: String,
}

impl NativeSession {
    /// `reaction_add` or `reaction_remove` (`action`): the user must be able to
    /// read the channel of the target.
    pub(super) async fn reaction_change(
        &mut self,
        id: u64,
        params: ReactionRequest,
        action: ReactionAction,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let (channel, target) = reactions::target(&self.chat, &self.app, &actor, &params).await?;
        self.readable(channel.as_str()).await?;
        let reacted = reactions::react(
            &self.chat,
            &self.app,
            &actor,
            &channel,
            target,
            params.emoji,
            action,
        )
        .await?;
        Ok(wire::raw_result_frame(
            id,
            &json::reacted_json(&reacted, action),
        ))
    }

    /// `reactions {channel}`: the counts of the reactions to the channel
    /// itself, with `me` for this user.
    pub(super) async fn reactions(
        &mut self,
        id: u64,
        params: ReactionsParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel).await?;
        let reader = (!self.client.is_anonymous()).then(|| self.client.user());
        let counts = reactions::channel_reactions(&self.chat, &self.app, &channel, reader).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::channel_reactions_json(&channel, &counts),
        ))
    }
}
