//! The native protocol's commands for rooms and members, read markers and
//! unread counts, pins, threads and search. The rules live in `chat::*`;
//! these handlers read parameters, apply the connection's identity and
//! reply.

use parley_core::ChannelName;
use parley_store::ReadDirection;
use parley_store::{MembersAction, PinAction};
use serde::Deserialize;

use super::codes::ErrorReply;
use super::session::NativeSession;
use super::wire;
use crate::chat::{pins, reads, rooms, search, threads};
use crate::json;
use parley_core::Frame;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersParams {
    channel: String,
    members: Vec<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoomsParams {
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MarkParams {
    channel: String,
    message_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmptyParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PinsParams {
    channel: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThreadParams {
    message_id: String,
    before: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    query: String,
    channel: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

impl NativeSession {
    fn channel(name: &str) -> Result<ChannelName, ErrorReply> {
        Ok(ChannelName::new(name).map_err(parley_core::Error::from)?)
    }

    pub(super) async fn room_create(
        &mut self,
        id: u64,
        params: rooms::CreateRequest,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let created = rooms::create(&self.chat, &self.app, Some(&actor.user), params).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::rooms::created_json(&created),
        ))
    }

    pub(super) async fn room_members_change(
        &mut self,
        id: u64,
        params: MembersParams,
        action: MembersAction,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let channel = Self::channel(&params.channel)?;
        let changed = rooms::change_members(
            &self.chat,
            &self.app,
            Some((&actor.user, actor.moderator)),
            &channel,
            params.members,
            params.role.as_deref(),
            action,
        )
        .await?;
        Ok(wire::raw_result_frame(
            id,
            &json::rooms::changed_json(&changed),
        ))
    }

    pub(super) async fn rooms(
        &mut self,
        id: u64,
        params: RoomsParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let page = rooms::rooms(
            &self.chat,
            &self.app,
            &actor.user,
            params.cursor.as_deref(),
            params.limit,
        )
        .await?;
        Ok(wire::raw_result_frame(id, &json::rooms::page_json(&page)))
    }

    pub(super) async fn read_mark(
        &mut self,
        id: u64,
        params: MarkParams,
        direction: ReadDirection,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let channel = self.readable(&params.channel).await?;
        let change = reads::mark(
            &self.chat,
            &self.app,
            &channel,
            &actor.user,
            &params.message_id,
            direction,
        )
        .await?;
        Ok(wire::raw_result_frame(
            id,
            &json::reads::change_json(&change),
        ))
    }

    pub(super) async fn unread(&mut self, id: u64, _: EmptyParams) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let counts = reads::unread(&self.chat, &self.app, &actor.user).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::reads::unread_json(&counts),
        ))
    }

    pub(super) async fn message_pin(
        &mut self,
        id: u64,
        params: MarkParams,
        action: PinAction,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let channel = self.readable(&params.channel).await?;
        let pinned = pins::change(
            &self.chat,
            &self.app,
            &channel,
            &actor,
            &params.message_id,
            action,
        )
        .await?;
        let data = pins::pin_data(&pinned.pin);
        let reply = std::str::from_utf8(&data).unwrap_or("{}");
        Ok(wire::raw_result_frame(id, reply))
    }

    pub(super) async fn pins(&mut self, id: u64, params: PinsParams) -> Result<Frame, ErrorReply> {
        let channel = self.readable(&params.channel).await?;
        let viewer = self.viewer(Some(&channel)).await?;
        let page = pins::pins_json(&self.chat, &self.app, &channel, &viewer).await?;
        Ok(wire::raw_result_frame(id, &page))
    }

    pub(super) async fn thread(
        &mut self,
        id: u64,
        params: ThreadParams,
    ) -> Result<Frame, ErrorReply> {
        let user = self.client.user_arc();
        // The viewer of the parent's channel, so that a room's moderators
        // see hidden replies there; a parent that does not exist is
        // answered by `threads::thread`.
        let parent = crate::chat::parse_id(&params.message_id)?;
        let channel = crate::chat::message_channel(&self.chat, &self.app, parent)
            .await
            .ok();
        let viewer = self.viewer(channel.as_ref()).await?;
        let thread = threads::thread(
            &self.chat,
            &self.app,
            Some(&user),
            &params.message_id,
            params.before.as_deref(),
            params.limit,
            &viewer,
        )
        .await?;
        // The parent's channel must be readable like any other.
        self.readable(thread.channel.as_str()).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::pages::thread_json(&thread),
        ))
    }

    pub(super) async fn search(
        &mut self,
        id: u64,
        params: SearchParams,
    ) -> Result<Frame, ErrorReply> {
        // Anonymous connections have no rooms to search.
        self.actor()?;
        let channel = match &params.channel {
            Some(name) => Some(self.readable(name).await?),
            None => None,
        };
        let viewer = self.viewer(channel.as_ref()).await?;
        let matches = search::search(
            &self.chat,
            &self.app,
            channel.as_ref(),
            &params.query,
            params.before.as_deref(),
            params.limit,
            &viewer,
        )
        .await?;
        Ok(wire::raw_result_frame(
            id,
            &json::pages::matches_json(&matches),
        ))
    }
}
