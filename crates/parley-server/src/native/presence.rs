//! The native protocol's presence, typing and status commands.

use std::sync::Arc;

use bytes::Bytes;
use parley_core::{ChannelName, Namespace, Status, Typer, TypingChange, UserStatus};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::codes::{self, ErrorReply};
use super::push;
use super::session::{AfterReply, NativeSession};
use super::wire;
use parley_core::Frame;

/// The most members one `presence` page holds.
pub const MAX_PAGE: usize = 1000;

/// The most users one `user_status` call may ask about.
const MAX_STATUS_USERS: usize = 100;

#[derive(Deserialize)]
pub(super) struct PresenceParams {
    channel: String,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
pub(super) struct ChannelOnly {
    channel: String,
}

#[derive(Deserialize)]
pub(super) struct PresenceUpdateParams {
    channel: String,
    state: Box<RawValue>,
}

#[derive(Deserialize)]
pub(super) struct TypingParams {
    channel: String,
    active: bool,
}

#[derive(Deserialize)]
pub(super) struct StatusUpdateParams {
    status: String,
}

#[derive(Deserialize)]
pub(super) struct UserStatusParams {
    users: Vec<String>,
}

#[derive(Serialize)]
struct StatsResult {
    num_users: usize,
    num_connections: usize,
    num_anonymous: usize,
}

#[derive(Serialize)]
struct TypingResult {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    throttled: bool,
}

/// A user's status on the wire.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusEntry {
    user: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<u64>,
}

impl From<&UserStatus> for StatusEntry {
    fn from(status: &UserStatus) -> Self {
        Self {
            user: status.user.to_string(),
            status: status.status.as_str(),
            last_seen: status.last_seen,
        }
    }
}

#[derive(Serialize)]
struct StatusResult {
    status: &'static str,
}

#[derive(Serialize)]
struct StatusListResult {
    users: Vec<StatusEntry>,
}

#[derive(Serialize)]
struct Empty {}

/// Checks a member state: a JSON object within the namespace's limit.
pub fn checked_state(state: &RawValue, namespace: &Namespace) -> Result<Bytes, ErrorReply> {
    let text = state.get();
    if !text.trim_start().starts_with('{') {
        return Err(ErrorReply::new(
            codes::BAD_REQUEST,
            "state must be a JSON object",
        ));
    }
    if text.len() > namespace.max_presence_state_bytes {
        return Err(ErrorReply::new(
            codes::TOO_LARGE,
            format!(
                "state is larger than {} bytes",
                namespace.max_presence_state_bytes
            ),
        ));
    }
    Ok(Bytes::copy_from_slice(text.as_bytes()))
}

impl NativeSession {
    /// The subscribed channel `name` of a namespace with presence.
    fn presence_channel(&self, name: &str) -> Result<(ChannelName, &Namespace), ErrorReply> {
        let channel = ChannelName::new(name).map_err(parley_core::Error::from)?;
        let namespace = self.app.app.namespace(&channel)?;
        if !self.subscriptions.contains(&channel) {
            return Err(ErrorReply::new(codes::PERMISSION_DENIED, "subscribe first"));
        }
        if !namespace.presence {
            return Err(ErrorReply::new(
                codes::PERMISSION_DENIED,
                "presence is off in this namespace",
            ));
        }
        Ok((channel, namespace))
    }

    fn user_only(&self) -> Result<(), ErrorReply> {
        if self.client.is_anonymous() {
            return Err(ErrorReply::new(
                codes::PERMISSION_DENIED,
                "needs a user token",
            ));
        }
        Ok(())
    }

    /// The subscribed channels whose namespace has presence.
    pub(super) fn presence_channels(&self) -> Vec<ChannelName> {
        self.subscriptions
            .iter()
            .filter(|channel| {
                self.app
                    .app
                    .namespace(channel)
                    .is_ok_and(|namespace| namespace.presence)
            })
            .cloned()
            .collect()
    }

    /// Does what commands left for after their reply: presence joins, and
    /// the replay of recovering subscriptions.
    pub(super) async fn run_after_reply(&mut self) {
        for action in std::mem::take(&mut self.after_reply) {
            match action {
                AfterReply::Join(channel, state) => {
                    let Ok(namespace) = self.app.app.namespace(&channel) else {
                        continue;
                    };
                    let joined = self
                        .server
                        .node
                        .presence_join(&self.app.app, &self.client, &channel, namespace, state)
                        .await;
                    if let Err(error) = joined {
                        tracing::warn!(%channel, %error, "presence join failed");
                    }
                }
                AfterReply::Replay {
                    channel,
                    publications,
                    up_to,
                } => self.start_replay(channel, publications, up_to),
            }
        }
    }

    /// Leaves a channel's presence, if its namespace has presence.
    pub(super) async fn leave_presence(&self, channel: &ChannelName) {
        if let Ok(namespace) = self.app.app.namespace(channel)
            && namespace.presence
        {
            self.server
                .node
                .presence_leave(&self.app.app, self.client.id, channel, namespace)
                .await;
        }
    }

    pub(super) async fn presence(
        &mut self,
        id: u64,
        params: PresenceParams,
    ) -> Result<Frame, ErrorReply> {
        let (channel, _) = self.presence_channel(&params.channel)?;
        let limit = params.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let page = self
            .server
            .node
            .presence_members(&self.app.app, &channel, params.cursor.as_deref(), limit)
            .await?;
        Ok(wire::raw_result_frame(id, &push::members_json(&page)))
    }

    pub(super) async fn presence_stats(
        &mut self,
        id: u64,
        params: ChannelOnly,
    ) -> Result<Frame, ErrorReply> {
        let (channel, _) = self.presence_channel(&params.channel)?;
        let stats = self
            .server
            .node
            .presence_stats(&self.app.app, &channel)
            .await?;
        Ok(wire::result_frame(
            id,
            &StatsResult {
                num_users: stats.num_users,
                num_connections: stats.num_connections,
                num_anonymous: stats.num_anonymous,
            },
        ))
    }

    pub(super) async fn presence_update(
        &mut self,
        id: u64,
        params: PresenceUpdateParams,
    ) -> Result<Frame, ErrorReply> {
        // An anonymous viewer may set its connection's state too: it is
        // kept (and listed to the backend) but pushed to nobody.
        let (channel, namespace) = self.presence_channel(&params.channel)?;
        let state = checked_state(&params.state, namespace)?;
        self.server
            .node
            .presence_update(&self.app.app, &channel, self.client.id, state)
            .await?;
        Ok(wire::result_frame(id, &Empty {}))
    }

    pub(super) fn typing(&mut self, id: u64, params: TypingParams) -> Result<Frame, ErrorReply> {
        self.user_only()?;
        let channel = ChannelName::new(&params.channel).map_err(parley_core::Error::from)?;
        let namespace = self.app.app.namespace(&channel)?;
        if !namespace.typing {
            return Err(ErrorReply::new(
                codes::PERMISSION_DENIED,
                "typing is off in this namespace",
            ));
        }
        if !self.subscriptions.contains(&channel) {
            return Err(ErrorReply::new(codes::PERMISSION_DENIED, "subscribe first"));
        }
        let typer = Typer {
            user: self.client.user_arc(),
            name: self.client.member_info().name.clone(),
        };
        let change =
            self.server
                .node
                .typing(&self.app.app, &channel, namespace, typer, params.active);
        Ok(wire::result_frame(
            id,
            &TypingResult {
                throttled: change == TypingChange::Throttled,
            },
        ))
    }

    pub(super) async fn status_update(
        &mut self,
        id: u64,
        params: StatusUpdateParams,
    ) -> Result<Frame, ErrorReply> {
        self.user_only()?;
        let away = match params.status.as_str() {
            "away" => true,
            "online" => false,
            _ => {
                return Err(ErrorReply::new(
                    codes::BAD_REQUEST,
                    r#"status is "online" or "away""#,
                ));
            }
        };
        let user: Arc<str> = self.client.user_arc();
        let status = self.server.node.set_away(&self.app.app, &user, away).await;
        debug_assert_ne!(
            status.status,
            Status::Offline,
            "a connected user is not offline"
        );
        Ok(wire::result_frame(
            id,
            &StatusResult {
                status: status.status.as_str(),
            },
        ))
    }

    pub(super) async fn user_status(
        &mut self,
        id: u64,
        params: UserStatusParams,
    ) -> Result<Frame, ErrorReply> {
        self.user_only()?;
        if params.users.len() > MAX_STATUS_USERS {
            return Err(ErrorReply::new(
                codes::BAD_REQUEST,
                format!("ask about at most {MAX_STATUS_USERS} users at once"),
            ));
        }
        let users = self
            .server
            .node
            .user_statuses(&self.app.app, &params.users)
            .await
            .iter()
            .map(StatusEntry::from)
            .collect();
        Ok(wire::result_frame(id, &StatusListResult { users }))
    }
}
