//! One native-protocol connection: its state machine and its commands.

use parley_store::{MembersAction, PinAction, ReactionAction, Visibility};
use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley_core::{
    ChannelName, ClientHandle, ClientInfo, Disconnect, Frame, Grant, MemberInfo, Publication,
    StreamPosition,
};
use parley_store::{ReadDirection, RestrictionKind};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::chat;
use super::codes::{self, ErrorReply};
use super::method::{Method, UNKNOWN_LABEL};
use super::presence;
use super::replay::Replay;
use super::wire::{self, Command};
use crate::auth::{AuthError, unix_now};
use crate::chat::Chat;
use crate::connection::Session;
use crate::rate_clock;
use crate::state::{AppContext, ServerState};

/// Protocol errors a connection may make before it is closed.
const MAX_VIOLATIONS: u32 = 10;

/// The state of one native connection.
pub struct NativeSession {
    pub(super) server: Arc<ServerState>,
    /// The chat service, which the chat commands take.
    pub(super) chat: Chat,
    pub(super) app: Arc<AppContext>,
    pub(super) client: Arc<ClientHandle>,
    /// Whether `connect` succeeded and the client is in the hub.
    registered: bool,
    /// When the connection must have connected, or its token must have been
    /// refreshed; `None` when nothing is due.
    deadline: Option<(Instant, Disconnect)>,
    pub(super) subscriptions: HashSet<ChannelName>,
    violations: u32,
    limiter: DefaultDirectRateLimiter,
    /// Set by a command that ends the connection after its reply.
    pub(super) close_after_reply: Option<Disconnect>,
    /// Work to do once the reply is queued, so that a client sees its
    /// `subscribe` reply before the replay and the `join` it causes.
    pub(super) after_reply: Vec<AfterReply>,
    /// Whether the token's roles include `moderator` or `admin`.
    pub(super) moderator: bool,
    /// The name and avatar of the user's latest token (from `connect`, then
    /// each `refresh`), which the messages they send from now on carry.
    pub(super) profile: crate::chat::Profile,
    /// Replays still being paged into the queue, oldest first.
    pub(super) replays: VecDeque<Replay>,
    /// The connection's live queries (`doc_watch`) and their channels.
    pub(super) watches: HashMap<u64, ChannelName>,
    /// Live queries started by the command being answered, activated once
    /// its reply is queued.
    pub(super) pending_watches: Vec<super::documents::PendingWatch>,
}

/// Work done after a command's reply is queued.
pub(super) enum AfterReply {
    /// Join a channel's presence, with a member state.
    Join(ChannelName, Option<Bytes>),
    /// Queue what a recovering subscription missed, then let live
    /// publications after `up_to` through.
    Replay {
        channel: ChannelName,
        publications: Vec<Arc<Publication>>,
        up_to: StreamPosition,
    },
}

#[derive(Deserialize)]
struct ConnectParams {
    token: Option<String>,
}

#[derive(Serialize)]
struct ConnectResult {
    client: String,
    user: String,
    ping_interval_ms: u64,
    pong_timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    subscriptions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscription_errors: Vec<SubscriptionError>,
    /// The user's unread messages across their channels and rooms.
    #[serde(skip_serializing_if = "Option::is_none")]
    unread: Option<u64>,
}

#[derive(Serialize)]
struct SubscriptionError {
    channel: String,
    code: u16,
    message: String,
}

#[derive(Deserialize)]
struct RefreshParams {
    token: String,
}

#[derive(Deserialize)]
struct SubscribeParams {
    channel: String,
    token: Option<String>,
    state: Option<Box<RawValue>>,
    since: Option<chat::Since>,
}

#[derive(Deserialize)]
struct ChannelParams {
    channel: String,
}

#[derive(Deserialize)]
struct PublishParams<'a> {
    channel: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Serialize)]
struct PublishResult<'a> {
    offset: u64,
    epoch: &'a str,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RefreshResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl NativeSession {
    /// A session for a connection accepted just now.
    pub fn new(server: Arc<ServerState>, app: Arc<AppContext>, client: Arc<ClientHandle>) -> Self {
        let config = &server.config;
        let quota = Quota::per_second(
            NonZeroU32::new(config.commands_per_second).unwrap_or(NonZeroU32::MIN),
        )
        .allow_burst(NonZeroU32::new(config.command_burst).unwrap_or(NonZeroU32::MIN));
        let deadline = Some((
            Instant::now() + config.connect_timeout,
            Disconnect::ConnectTimeout,
        ));
        Self {
            chat: server.chat.clone(),
            server,
            app,
            client,
            registered: false,
            deadline,
            subscriptions: HashSet::new(),
            violations: 0,
            limiter: RateLimiter::direct_with_clock(quota, rate_clock::clock()),
            close_after_reply: None,
            after_reply: Vec::new(),
            moderator: false,
            profile: crate::chat::Profile::default(),
            replays: VecDeque::new(),
            watches: HashMap::new(),
            pending_watches: Vec::new(),
        }
    }

    pub(super) fn reply(&self, frame: Frame) {
        // A refused push means the queue is closing; the connection loop
        // sees that on its next turn.
        let _ = self.client.send(frame);
    }

    fn violation(&mut self) -> Option<Disconnect> {
        self.violations += 1;
        (self.violations >= MAX_VIOLATIONS).then_some(Disconnect::ProtocolViolation)
    }

    /// Runs one command. `method` is the command's method, parsed once by
    /// the caller; `None` for a name the protocol does not have.
    async fn dispatch(
        &mut self,
        command: &Command<'_>,
        method: Option<Method>,
    ) -> Result<Frame, ErrorReply> {
        let id = command.id;
        let params = command.params;
        if method != Some(Method::Connect) && !self.registered {
            self.close_after_reply = self.violation();
            return Err(ErrorReply::new(codes::NOT_CONNECTED, "send connect first"));
        }
        let Some(method) = method else {
            self.close_after_reply = self.violation();
            return Err(ErrorReply::new(
                codes::UNKNOWN_METHOD,
                format!("unknown method {:?}", command.method),
            ));
        };
        match method {
            Method::Connect => self.connect(id, wire::params(params)?).await,
            Method::Refresh => self.refresh(id, wire::params(params)?),
            Method::Subscribe => self.subscribe(id, wire::params(params)?).await,
            Method::Unsubscribe => self.unsubscribe(id, wire::params(params)?).await,
            Method::Publish => self.publish(id, wire::params(params)?).await,
            Method::Ping => Ok(wire::result_frame(id, &Empty {})),
            Method::Presence => self.presence(id, wire::params(params)?).await,
            Method::PresenceStats => self.presence_stats(id, wire::params(params)?).await,
            Method::PresenceUpdate => self.presence_update(id, wire::params(params)?).await,
            Method::Typing => self.typing(id, wire::params(params)?),
            Method::StatusUpdate => self.status_update(id, wire::params(params)?).await,
            Method::UserStatus => self.user_status(id, wire::params(params)?).await,
            Method::MessageSend => self.message_send(id, wire::params(params)?).await,
            Method::MessageEdit => self.message_edit(id, wire::params(params)?).await,
            Method::MessageDelete => self.message_delete(id, wire::params(params)?).await,
            Method::History => self.history(id, wire::params(params)?).await,
            Method::Messages => self.messages(id, wire::params(params)?).await,
            Method::EditTrail => self.edit_trail(id, wire::params(params)?).await,
            Method::ReactionAdd => {
                self.reaction_change(id, wire::params(params)?, ReactionAction::Add)
                    .await
            }
            Method::ReactionRemove => {
                self.reaction_change(id, wire::params(params)?, ReactionAction::Remove)
                    .await
            }
            Method::Reactions => self.reactions(id, wire::params(params)?).await,
            Method::RoomCreate => self.room_create(id, wire::params(params)?).await,
            Method::RoomAddMembers => {
                self.room_members_change(id, wire::params(params)?, MembersAction::Add)
                    .await
            }
            Method::RoomRemoveMembers => {
                self.room_members_change(id, wire::params(params)?, MembersAction::Remove)
                    .await
            }
            Method::Rooms => self.rooms(id, wire::params(params)?).await,
            Method::ReadMark => {
                self.read_mark(id, wire::params(params)?, ReadDirection::Forward)
                    .await
            }
            Method::MarkUnread => {
                self.read_mark(id, wire::params(params)?, ReadDirection::Back)
                    .await
            }
            Method::Unread => self.unread(id, wire::params(params)?).await,
            Method::MessagePin => {
                self.message_pin(id, wire::params(params)?, PinAction::Pin)
                    .await
            }
            Method::MessageUnpin => {
                self.message_pin(id, wire::params(params)?, PinAction::Unpin)
                    .await
            }
            Method::Pins => self.pins(id, wire::params(params)?).await,
            Method::Thread => self.thread(id, wire::params(params)?).await,
            Method::Search => self.search(id, wire::params(params)?).await,
            Method::Mute => {
                self.restrict(id, RestrictionKind::Mute, wire::params(params)?)
                    .await
            }
            Method::Unmute => {
                self.lift(id, RestrictionKind::Mute, wire::params(params)?)
                    .await
            }
            Method::Ban => {
                self.restrict(id, RestrictionKind::Ban, wire::params(params)?)
                    .await
            }
            Method::Unban => {
                self.lift(id, RestrictionKind::Ban, wire::params(params)?)
                    .await
            }
            Method::MessageHide => {
                self.message_hide(id, wire::params(params)?, Visibility::Hidden)
                    .await
            }
            Method::MessageUnhide => {
                self.message_hide(id, wire::params(params)?, Visibility::Shown)
                    .await
            }
            Method::Block => self.block(id, wire::params(params)?).await,
            Method::Unblock => self.unblock(id, wire::params(params)?).await,
            Method::Blocks => self.blocks(id).await,
            Method::Report => self.report(id, wire::params(params)?).await,
            Method::DocSet => self.doc_set(id, wire::params(params)?).await,
            Method::DocMerge => self.doc_merge(id, wire::params(params)?).await,
            Method::DocIncrement => self.doc_increment(id, wire::params(params)?).await,
            Method::DocDelete => self.doc_delete(id, wire::params(params)?).await,
            Method::DocGet => self.doc_get(id, wire::params(params)?).await,
            Method::DocList => self.doc_list(id, wire::params(params)?).await,
            Method::DocWatch => self.doc_watch(id, wire::params(params)?).await,
            Method::DocUnwatch => self.doc_unwatch(id, wire::params(params)?),
        }
    }

    async fn connect(&mut self, id: u64, params: ConnectParams) -> Result<Frame, ErrorReply> {
        if self.registered {
            self.close_after_reply = self.violation();
            return Err(ErrorReply::new(codes::CONFLICT, "already connected"));
        }
        let claims = match params.token {
            Some(token) => Some(self.app.keys.verify_connection(&token).map_err(|error| {
                if let AuthError::Invalid(_) = error {
                    self.close_after_reply = Some(Disconnect::Unauthorized);
                }
                auth_error(error)
            })?),
            None => {
                let anonymous_allowed = self
                    .app
                    .app
                    .options
                    .namespaces
                    .values()
                    .any(|ns| ns.anonymous);
                if !anonymous_allowed {
                    self.close_after_reply = Some(Disconnect::Unauthorized);
                    return Err(ErrorReply::new(
                        codes::UNAUTHORIZED,
                        "this app needs a token to connect",
                    ));
                }
                None
            }
        };
        let (user, info) = claims.as_ref().map_or_else(
            || (Arc::from(""), Arc::default()),
            |claims| {
                let info = MemberInfo {
                    name: claims.name.clone(),
                    avatar: claims.avatar.clone(),
                    info: claims.info.clone(),
                };
                (claims.user.clone(), Arc::new(info))
            },
        );
        let unread = match &claims {
            Some(claims) => self.admit_user(&claims.user).await?,
            None => None,
        };
        let node = &self.server.node;
        if let Err(error) = node.register(&self.app.app, &self.client, user, info) {
            self.close_after_reply = Some(Disconnect::TooManyConnections);
            return Err(error.into());
        }
        self.registered = true;
        self.moderator = claims
            .as_ref()
            .is_some_and(|claims| crate::chat::is_moderator(&claims.roles));
        if let Some(claims) = &claims {
            self.profile = crate::chat::Profile::of(claims);
        }
        let expires_at = claims.as_ref().and_then(|claims| claims.expires_at);
        self.deadline = expires_at.map(|exp| self.expiry_deadline(exp));

        let mut subscriptions = Vec::new();
        let mut subscription_errors = Vec::new();
        for channel in claims.iter().flat_map(|claims| &claims.channels) {
            match self
                .subscribe_channel(channel, Grant::Token, None, false)
                .await
            {
                Ok(channel) => subscriptions.push(channel.as_str().to_owned()),
                Err(error) => subscription_errors.push(SubscriptionError {
                    channel: channel.clone(),
                    code: error.code,
                    message: error.message,
                }),
            }
        }
        let config = &self.server.config;
        Ok(wire::result_frame(
            id,
            &ConnectResult {
                unread,
                client: self.client.id.to_string(),
                user: self.client.user().to_owned(),
                ping_interval_ms: millis(config.ping_interval),
                pong_timeout_ms: millis(config.pong_timeout),
                expires_at,
                subscriptions,
                subscription_errors,
            },
        ))
    }

    /// When a token expiring at `exp` (Unix seconds) stops being refreshable.
    fn expiry_deadline(&self, exp: u64) -> (Instant, Disconnect) {
        let left = Duration::from_secs(exp.saturating_sub(unix_now()));
        (
            Instant::now() + left + self.server.config.token_grace,
            Disconnect::TokenExpired,
        )
    }

    fn refresh(&mut self, id: u64, params: RefreshParams) -> Result<Frame, ErrorReply> {
        let claims = self
            .app
            .keys
            .verify_connection(&params.token)
            .map_err(auth_error)?;
        if *claims.user != *self.client.user() {
            return Err(ErrorReply::new(
                codes::UNAUTHORIZED,
                "token is for another user",
            ));
        }
        self.deadline = claims.expires_at.map(|exp| self.expiry_deadline(exp));
        // A token with a new name or avatar applies to the messages sent
        // from now on; those sent before keep theirs.
        self.profile = crate::chat::Profile::of(&claims);
        Ok(wire::result_frame(
            id,
            &RefreshResult {
                expires_at: claims.expires_at,
            },
        ))
    }

    /// Subscribes after checking names, limits and permissions. A presence
    /// join, with `state`, is queued for after the reply.
    async fn subscribe_channel(
        &mut self,
        name: &str,
        grant: Grant,
        state: Option<&RawValue>,
        recovering: bool,
    ) -> Result<ChannelName, ErrorReply> {
        let channel = ChannelName::new(name).map_err(parley_core::Error::from)?;
        if self.subscriptions.contains(&channel) {
            if self.app.app.hub.is_subscribed(self.client.id, &channel) {
                return Err(parley_core::Error::AlreadySubscribed.into());
            }
            // The server ended this subscription (removed from a room, or
            // a ban).
            self.subscriptions.remove(&channel);
        }
        let limit = self.app.app.options.max_subscriptions_per_client;
        if self.subscriptions.len() >= limit {
            return Err(parley_core::Error::TooManySubscriptions(limit).into());
        }
        let namespace = self
            .app
            .app
            .check_subscribe(self.client.user(), &channel, grant)?;
        crate::chat::rooms::check_member(&self.chat, &self.app, &channel, self.client.user())
            .await?;
        let state = match state {
            Some(state) if namespace.presence => Some(presence::checked_state(state, namespace)?),
            Some(_) => {
                return Err(ErrorReply::new(
                    codes::BAD_REQUEST,
                    "state needs a namespace with presence",
                ));
            }
            None => None,
        };
        let presence = namespace.presence;
        crate::chat::moderation::check_subscribe(
            &self.chat,
            &self.app,
            &channel,
            self.client.user(),
        )
        .await?;
        self.server
            .node
            .subscribe(&self.app.app, &self.client, &channel, recovering)
            .await?;
        // A replay of an earlier subscription to this channel that the
        // server ended is of no use any more.
        self.drop_replay(&channel);
        self.subscriptions.insert(channel.clone());
        if presence {
            self.after_reply
                .push(AfterReply::Join(channel.clone(), state));
        }
        Ok(channel)
    }

    async fn subscribe(&mut self, id: u64, params: SubscribeParams) -> Result<Frame, ErrorReply> {
        let grant = match &params.token {
            None => Grant::None,
            Some(token) => {
                self.app
                    .keys
                    .verify_channel(token, self.client.user(), &params.channel)
                    .map_err(auth_error)?;
                Grant::Token
            }
        };
        // Every subscription holds live publications back until its reply
        // is queued: then the client gets exactly the offsets after the
        // position in the reply (after its replay, with `since`), each once.
        let channel = self
            .subscribe_channel(&params.channel, grant, params.state.as_deref(), true)
            .await?;
        match self.position_and_replay(id, &channel, params.since).await {
            Ok(frame) => Ok(frame),
            Err(error) => {
                // Undo the subscription: the client was told it failed.
                self.subscriptions.remove(&channel);
                self.after_reply.clear();
                self.server
                    .node
                    .unsubscribe(&self.app.app, self.client.id, &channel)
                    .await;
                Err(error)
            }
        }
    }

    /// Drops the subscriptions the server ended (a ban, a removal from a
    /// room, on this node or another) from the session's own list, which
    /// otherwise would keep renewing their presence and count against the
    /// subscription limit. The hub is the authority on what a connection
    /// subscribes to.
    fn forget_ended_subscriptions(&mut self) {
        let hub = &self.app.app.hub;
        let client = self.client.id;
        self.subscriptions
            .retain(|channel| hub.is_subscribed(client, channel));
    }

    async fn unsubscribe(&mut self, id: u64, params: ChannelParams) -> Result<Frame, ErrorReply> {
        let channel = ChannelName::new(&params.channel).map_err(parley_core::Error::from)?;
        if self.subscriptions.remove(&channel) {
            self.drop_replay(&channel);
            self.server
                .node
                .unsubscribe(&self.app.app, self.client.id, &channel)
                .await;
            // After unsubscribing: the client gets no push about its own
            // leave, as it got its join only after the reply.
            self.leave_presence(&channel).await;
        }
        Ok(wire::result_frame(id, &Empty {}))
    }

    async fn publish(&mut self, id: u64, params: PublishParams<'_>) -> Result<Frame, ErrorReply> {
        let channel = ChannelName::new(&params.channel).map_err(parley_core::Error::from)?;
        let data = params.data.get();
        let subscribed = self.subscriptions.contains(&channel);
        self.app
            .app
            .check_publish(&self.client, &channel, subscribed, data.len())?;
        crate::chat::rooms::check_member(&self.chat, &self.app, &channel, self.client.user())
            .await?;
        let info = ClientInfo {
            client: self.client.id,
            user: self.client.user_arc(),
            info: self.client.info().cloned(),
        };
        let data = Bytes::copy_from_slice(data.as_bytes());
        let position = self
            .chat
            .node()
            .publish(&self.app.app, &channel, data, Some(info))
            .await?;
        Ok(wire::result_frame(
            id,
            &PublishResult {
                offset: position.offset,
                epoch: &position.epoch,
            },
        ))
    }
}

impl Session for NativeSession {
    fn client(&self) -> &Arc<ClientHandle> {
        &self.client
    }

    async fn on_text(&mut self, text: &str) -> Option<Disconnect> {
        let command = match wire::parse_command(text) {
            Ok(command) => command,
            Err((id, error)) => {
                self.reply(wire::error_frame(id, &error));
                return self.violation();
            }
        };
        if let Err(not_until) = self.limiter.check() {
            let wait = not_until.wait_time_from(rate_clock::now());
            let mut error = ErrorReply::new(codes::TOO_MANY_REQUESTS, "too many commands");
            error.retry_after_ms = Some(millis(wait).max(1));
            self.reply(wire::error_frame(Some(command.id), &error));
            return None;
        }
        let started = Instant::now();
        let method = Method::parse(&command.method);
        let frame = match self.dispatch(&command, method).await {
            Ok(frame) => frame,
            Err(error) => wire::error_frame(Some(command.id), &error),
        };
        metrics::histogram!("parley_command_duration_seconds", "method" => method.map_or(UNKNOWN_LABEL, Method::as_str))
            .record(started.elapsed().as_secs_f64());
        self.reply(frame);
        self.run_after_reply().await;
        self.activate_watches();
        self.close_after_reply.take()
    }

    async fn on_alive(&mut self) {
        self.forget_ended_subscriptions();
        let channels = self.presence_channels();
        if !channels.is_empty() {
            self.server
                .node
                .presence_renew(&self.app.app, &self.client, &channels)
                .await;
        }
    }

    fn on_written(&mut self) {
        self.feed_replays();
    }

    fn on_binary(&mut self) -> Option<Disconnect> {
        let error = ErrorReply::new(
            codes::BAD_REQUEST,
            "binary frames are not supported; send JSON text",
        );
        self.reply(wire::error_frame(None, &error));
        self.violation()
    }

    fn on_oversized(&mut self, text: &str) -> Option<Disconnect> {
        let limit = self.server.config.max_frame_bytes;
        let error = ErrorReply::new(
            codes::TOO_LARGE,
            format!("frame of {} bytes is over the limit of {limit}", text.len()),
        );
        // The frame is bounded (twice the limit), so reading its id to
        // answer it is cheap.
        let id = match wire::parse_command(text) {
            Ok(command) => Some(command.id),
            Err((id, _)) => id,
        };
        self.reply(wire::error_frame(id, &error));
        self.violation()
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.map(|(at, _)| at)
    }

    fn on_deadline(&mut self) -> Option<Disconnect> {
        match self.deadline {
            Some((at, reason)) if at <= Instant::now() => Some(reason),
            _ => None,
        }
    }

    fn goodbye(&self, reason: Disconnect) -> (u16, Option<Frame>) {
        (
            codes::close_code(reason),
            Some(wire::disconnect_frame(reason)),
        )
    }

    async fn finish(mut self) {
        self.end_watches();
        if self.registered {
            // A subscription the server ended left its presence already.
            self.forget_ended_subscriptions();
            for channel in &self.subscriptions {
                self.leave_presence(channel).await;
            }
            self.server
                .node
                .unregister(&self.app.app, &self.client, self.subscriptions)
                .await;
        }
    }
}

fn auth_error(error: AuthError) -> ErrorReply {
    match error {
        AuthError::Expired => {
            ErrorReply::new(codes::TOKEN_EXPIRED, "token expired: refresh it and retry")
        }
        AuthError::Invalid(reason) => {
            ErrorReply::new(codes::UNAUTHORIZED, format!("invalid token: {reason}"))
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
