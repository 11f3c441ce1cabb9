//! The native protocol's moderation commands: `mute`, `unmute`, `ban`,
//! `unban` (moderators), `block`, `unblock`, `blocks` and `report` (every
//! user), and the `unsubscribed` push of a ban.

use parley_store::Visibility;
use std::sync::Arc;

use parley_core::{ChannelName, Disconnect, Frame};
use parley_store::RestrictionKind;
use serde::Deserialize;
use serde_json::json;

use super::codes::{self, ErrorReply};
use super::session::NativeSession;
use super::wire;
use crate::chat::moderation::{self, RestrictRequest};
use crate::chat::reports;
use crate::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RestrictParams {
    user: String,
    channel: Option<String>,
    duration: Option<String>,
    /// With `mute`: a shadow mute.
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LiftParams {
    user: String,
    channel: Option<String>,
    /// With `unmute`: lift a shadow mute.
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserParams {
    user: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportParams {
    message_id: String,
    reason: String,
}

/// `{"push":"unsubscribed","channel":…,"reason":…}`: the server ended the
/// connection's subscription (a ban); the client should not resubscribe.
pub fn unsubscribed_frame(channel: &ChannelName, reason: &str) -> Frame {
    Frame::new(
        json!({"push": "unsubscribed", "channel": channel.as_str(), "reason": reason}).to_string(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdParams {
    id: String,
}

/// A mute becomes a shadow mute with `shadow: true`; bans have no shadow.
fn shadowed(kind: RestrictionKind, shadow: bool) -> Result<RestrictionKind, ErrorReply> {
    match (kind, shadow) {
        (_, false) => Ok(kind),
        (RestrictionKind::Mute, true) => Ok(RestrictionKind::ShadowMute),
        _ => Err(ErrorReply::new(
            codes::BAD_REQUEST,
            "only a mute can be a shadow mute",
        )),
    }
}

fn channel(name: Option<&str>) -> Result<Option<ChannelName>, ErrorReply> {
    name.map(|name| ChannelName::new(name).map_err(|error| parley_core::Error::from(error).into()))
        .transpose()
}

impl NativeSession {
    /// At `connect`: refuses a user banned from the app (the connection is
    /// then closed with 4003), loads the user's block list into the hub and
    /// returns the user's unread total for the reply (see
    /// [`moderation::admit`]: one store read).
    pub(super) async fn admit_user(&mut self, user: &Arc<str>) -> Result<Option<u64>, ErrorReply> {
        moderation::admit(&self.chat, &self.app, user)
            .await
            .map_err(|error| {
                self.close_after_reply = Some(Disconnect::Forced);
                error.into()
            })
    }

    /// `mute` and `ban`.
    pub(super) async fn restrict(
        &mut self,
        id: u64,
        kind: RestrictionKind,
        params: RestrictParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let kind = shadowed(kind, params.shadow)?;
        let request = RestrictRequest {
            user: params.user,
            channel: channel(params.channel.as_deref())?,
            duration: params
                .duration
                .as_deref()
                .map(moderation::parse_duration)
                .transpose()?,
        };
        let restricted = moderation::restrict(&self.chat, &self.app, &actor, kind, request).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::moderation::restriction_json(&restricted.restriction),
        ))
    }

    /// `unmute` and `unban`: `{"lifted": bool}`.
    pub(super) async fn lift(
        &mut self,
        id: u64,
        kind: RestrictionKind,
        params: LiftParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let kind = shadowed(kind, params.shadow)?;
        let channel = channel(params.channel.as_deref())?;
        let lifted = moderation::lift(
            &self.chat,
            &self.app,
            &actor,
            kind,
            &params.user,
            channel.as_ref(),
        )
        .await?;
        Ok(wire::result_frame(id, &json!({"lifted": lifted})))
    }

    /// `block {user}`: `{"blocks": [...]}`, the list after the change.
    pub(super) async fn block(&mut self, id: u64, params: UserParams) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let blocks = moderation::block(&self.chat, &self.app, &actor, &params.user).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::moderation::blocks_json(&blocks),
        ))
    }

    /// `unblock {user}`: `{"blocks": [...]}`, the list after the change.
    pub(super) async fn unblock(
        &mut self,
        id: u64,
        params: UserParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let blocks = moderation::unblock(&self.chat, &self.app, &actor, &params.user).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::moderation::blocks_json(&blocks),
        ))
    }

    /// `blocks {}`: the users this user blocked.
    pub(super) async fn blocks(&mut self, id: u64) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let blocks = moderation::blocks(&self.chat, &self.app, &actor).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::moderation::blocks_json(&blocks),
        ))
    }

    /// `message_hide {id}` and `message_unhide {id}` (moderators).
    pub(super) async fn message_hide(
        &mut self,
        id: u64,
        params: IdParams,
        visibility: Visibility,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message =
            moderation::hide(&self.chat, &self.app, &actor, &params.id, visibility).await?;
        Ok(wire::raw_result_frame(
            id,
            &crate::json::message_json_revealed(&message),
        ))
    }

    /// `report {message_id, reason}` on a message of a channel the user may
    /// read.
    pub(super) async fn report(
        &mut self,
        id: u64,
        params: ReportParams,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let message_id = params
            .message_id
            .parse()
            .map_err(|_| ErrorReply::new(codes::BAD_REQUEST, "not a message id"))?;
        let channel = crate::chat::message_channel(&self.chat, &self.app, message_id).await?;
        self.readable(channel.as_str()).await?;
        let report =
            reports::report(&self.chat, &self.app, &actor, message_id, &params.reason).await?;
        Ok(wire::raw_result_frame(
            id,
            &json::moderation::report_json(&report),
        ))
    }
}
