//! One Pusher-protocol connection: its state, the frame loop (the
//! [`Session`] the connection task drives) and the dispatch of incoming
//! events to subscriptions (`subscriptions.rs`), sign-in (`signin.rs`) and
//! client events (`client_events.rs`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley_core::{ChannelName, ClientHandle, Disconnect, Frame};
use serde::Serialize;

use super::codes;
use super::incoming::{ClientMessage, parse_frame};
use super::push::{Event, internal_event};
use super::signin::SignedIn;
use super::subscriptions::Subscription;
use crate::connection::Session;
use crate::rate_clock;
use crate::state::{AppContext, ServerState};

/// Protocol errors a connection may make before it is closed.
const MAX_VIOLATIONS: u32 = 10;

/// The state of one Pusher connection.
pub struct PusherSession {
    pub(super) server: Arc<ServerState>,
    pub(super) app: Arc<AppContext>,
    pub(super) client: Arc<ClientHandle>,
    pub(super) socket_id: String,
    /// Who the connection signed in as (`pusher:signin`).
    pub(super) signed_in: Option<SignedIn>,
    /// When the connection opened, for the sign-in deadline.
    opened: Instant,
    /// Whether the client is in the hub (registration can fail at once).
    registered: bool,
    pub(super) subscriptions: HashMap<ChannelName, Subscription>,
    pub(super) client_events: DefaultDirectRateLimiter,
    /// A close code that says more than the disconnect reason (4301).
    pub(super) close_code: Option<u16>,
    violations: u32,
}

/// The data of `pusher:error`.
#[derive(Serialize)]
struct ErrorData<'a> {
    code: Option<u16>,
    message: &'a str,
}

/// The data of `pusher:connection_established`.
#[derive(Serialize)]
struct Established<'a> {
    socket_id: &'a str,
    activity_timeout: u64,
}

impl PusherSession {
    /// A session for a connection accepted just now: registers it and
    /// queues `pusher:connection_established`.
    pub fn start(
        server: Arc<ServerState>,
        app: Arc<AppContext>,
        client: Arc<ClientHandle>,
    ) -> Self {
        let per_second = app.config.pusher.client_events_per_second;
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN));
        let socket_id = client.id.to_string();
        let registered = server
            .node
            .register(&app.app, &client, Arc::from(""), Arc::default())
            .is_ok();
        let session = Self {
            server,
            app,
            client,
            socket_id,
            signed_in: None,
            opened: Instant::now(),
            registered,
            subscriptions: HashMap::new(),
            client_events: RateLimiter::direct_with_clock(quota, rate_clock::clock()),
            close_code: None,
            violations: 0,
        };
        if registered {
            let established = Established {
                socket_id: &session.socket_id,
                activity_timeout: session.server.config.ping_interval.as_secs().max(1),
            };
            session.send(internal_event(
                "pusher:connection_established",
                None,
                &established,
            ));
        } else {
            session.client.disconnect(Disconnect::NodeFull);
        }
        session
    }

    pub(super) fn send(&self, frame: Frame) {
        // A refused push means the queue is closing; the connection loop
        // sees that on its next turn.
        let _ = self.client.send(frame);
    }

    pub(super) fn error(&self, code: Option<u16>, message: &str) {
        self.send(
            Event {
                event: "pusher:error",
                channel: None,
                data: &ErrorData { code, message },
                user_id: None,
            }
            .frame(),
        );
    }

    fn violation(&mut self, message: &str) -> Option<Disconnect> {
        self.error(None, message);
        self.violations += 1;
        (self.violations >= MAX_VIOLATIONS).then_some(Disconnect::ProtocolViolation)
    }

    async fn dispatch(&mut self, message: ClientMessage<'_>) -> Option<Disconnect> {
        match message {
            ClientMessage::Ping => {
                self.send(Frame::from_static(r#"{"event":"pusher:pong","data":{}}"#));
                None
            }
            ClientMessage::Pong => None,
            ClientMessage::Signin(data) => {
                self.signin(data).await;
                None
            }
            ClientMessage::Subscribe(data) => {
                self.subscribe_or_refuse(data).await;
                None
            }
            ClientMessage::Unsubscribe(data) => {
                self.unsubscribe(data).await;
                None
            }
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(&event, &channel, data).await,
        }
    }
}

impl Session for PusherSession {
    fn client(&self) -> &Arc<ClientHandle> {
        &self.client
    }

    async fn on_text(&mut self, text: &str) -> Option<Disconnect> {
        match parse_frame(text) {
            Ok(message) => self.dispatch(message).await,
            Err(error) => self.violation(&error.message()),
        }
    }

    async fn on_alive(&mut self) {
        self.renew_presence().await;
    }

    fn on_binary(&mut self) -> Option<Disconnect> {
        self.violation("binary frames are not supported; send JSON text")
    }

    fn on_oversized(&mut self, _: &str) -> Option<Disconnect> {
        self.violation("message too large")
    }

    fn deadline(&self) -> Option<Instant> {
        let options = &self.app.config.pusher;
        (options.enable_user_authentication && self.signed_in.is_none())
            .then(|| self.opened + options.user_authentication_timeout)
    }

    fn on_deadline(&mut self) -> Option<Disconnect> {
        // Called whenever the connection's timer fires: act only once the
        // sign-in deadline has passed unsigned.
        let expired = self
            .deadline()
            .is_some_and(|deadline| deadline <= Instant::now());
        expired.then(|| {
            self.close_code = Some(codes::UNAUTHORIZED);
            Disconnect::Unauthorized
        })
    }

    fn goodbye(&self, reason: Disconnect) -> (u16, Option<Frame>) {
        let code = self.close_code.unwrap_or_else(|| codes::close_code(reason));
        let message = match self.close_code {
            Some(codes::CLIENT_EVENT_REJECTED) => "client event rate limit exceeded",
            Some(codes::UNAUTHORIZED) if reason == Disconnect::Unauthorized => {
                "connection not signed in within the user authentication timeout"
            }
            _ => reason.reason(),
        };
        let goodbye = Event {
            event: "pusher:error",
            channel: None,
            data: &ErrorData {
                code: Some(code),
                message,
            },
            user_id: None,
        }
        .frame();
        (code, Some(goodbye))
    }

    async fn finish(self) {
        if !self.registered {
            return;
        }
        self.sign_out();
        self.unsubscribe_all().await;
        self.server
            .node
            .unregister(&self.app.app, &self.client, std::iter::empty())
            .await;
    }
}
