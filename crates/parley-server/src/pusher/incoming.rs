//! The Pusher protocol's inbound frame: one text frame from a client,
//! parsed into the [`ClientMessage`] the session acts on, or the
//! [`FrameError`] it answers with `pusher:error`.
//!
//! A pure function of the frame's text, apart from the session, so that
//! the fuzz target (`tests/fuzz/pusher_frame.rs`) can drive it alone.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// What a well-formed frame asks for.
#[derive(Debug)]
pub enum ClientMessage<'a> {
    /// `pusher:ping`, answered with `pusher:pong`.
    Ping,
    /// `pusher:pong`, an answer to the server's ping.
    Pong,
    /// `pusher:signin`, whose data the sign-in checks itself (a bad one is
    /// refused with 4009, not counted as a protocol violation).
    Signin(Option<&'a RawValue>),
    /// `pusher:subscribe`.
    Subscribe(SubscribeData),
    /// `pusher:unsubscribe`.
    Unsubscribe(UnsubscribeData),
    /// A `client-*` event to relay to the channel's other subscribers.
    ClientEvent {
        /// The event's name, starting with `client-`.
        event: Cow<'a, str>,
        /// The channel, empty when the frame names none.
        channel: Cow<'a, str>,
        /// The data as the client sent it, `null` when absent.
        data: &'a RawValue,
    },
}

/// A frame the session refuses; each counts as a protocol violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not a JSON object with a string `event`.
    NotAnEvent,
    /// `pusher:subscribe` without data naming a channel.
    SubscribeWithoutChannel,
    /// `pusher:unsubscribe` without data naming a channel.
    UnsubscribeWithoutChannel,
    /// An event name the protocol does not have.
    Unsupported(String),
}

impl FrameError {
    /// The message of the `pusher:error` that answers the frame.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::NotAnEvent => "expected a JSON object with an event".into(),
            Self::SubscribeWithoutChannel => "pusher:subscribe needs data with a channel".into(),
            Self::UnsubscribeWithoutChannel => {
                "pusher:unsubscribe needs data with a channel".into()
            }
            Self::Unsupported(event) => format!("unsupported event {event:?}").into(),
        }
    }
}

/// The data of `pusher:subscribe`.
#[derive(Debug, Deserialize)]
pub struct SubscribeData {
    pub(super) channel: String,
    #[serde(default)]
    pub(super) auth: Option<String>,
    #[serde(default)]
    pub(super) channel_data: Option<Box<RawValue>>,
}

impl SubscribeData {
    /// The channel to subscribe to.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// The data of `pusher:unsubscribe`.
#[derive(Debug, Deserialize)]
pub struct UnsubscribeData {
    pub(super) channel: String,
}

impl UnsubscribeData {
    /// The channel to leave.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// An event from the client, as it is on the wire.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Parses one text frame from a client.
pub fn parse_frame(text: &str) -> Result<ClientMessage<'_>, FrameError> {
    let incoming: Incoming<'_> = serde_json::from_str(text).map_err(|_| FrameError::NotAnEvent)?;
    match &*incoming.event {
        "pusher:ping" => Ok(ClientMessage::Ping),
        "pusher:pong" => Ok(ClientMessage::Pong),
        "pusher:signin" => Ok(ClientMessage::Signin(incoming.data)),
        "pusher:subscribe" => object(incoming.data)
            .map(ClientMessage::Subscribe)
            .ok_or(FrameError::SubscribeWithoutChannel),
        "pusher:unsubscribe" => object(incoming.data)
            .map(ClientMessage::Unsubscribe)
            .ok_or(FrameError::UnsubscribeWithoutChannel),
        event if event.starts_with("client-") => Ok(ClientMessage::ClientEvent {
            event: incoming.event,
            channel: incoming.channel.unwrap_or_default(),
            data: incoming.data.unwrap_or(RawValue::NULL),
        }),
        event => Err(FrameError::Unsupported(event.to_owned())),
    }
}

/// The `data` of an event as `T`: an object, or a string holding one.
pub(super) fn object<T: serde::de::DeserializeOwned>(data: Option<&RawValue>) -> Option<T> {
    let text = data?.get();
    serde_json::from_str(text).ok().or_else(|| {
        let inner: String = serde_json::from_str(text).ok()?;
        serde_json::from_str(&inner).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_into_messages_or_errors() {
        let subscribe =
            parse_frame(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"news\"}"}"#);
        assert!(
            matches!(subscribe, Ok(ClientMessage::Subscribe(data)) if data.channel() == "news")
        );
        let relayed = parse_frame(r#"{"event":"client-typing","channel":"private-a"}"#);
        assert!(matches!(
            relayed,
            Ok(ClientMessage::ClientEvent { channel, data, .. })
                if channel == "private-a" && data.get() == "null"
        ));
        assert_eq!(parse_frame("[1]").unwrap_err(), FrameError::NotAnEvent);
        assert_eq!(
            parse_frame(r#"{"event":"pusher:unsubscribe","data":{}}"#).unwrap_err(),
            FrameError::UnsubscribeWithoutChannel
        );
        assert_eq!(
            parse_frame(r#"{"event":"nope"}"#).unwrap_err().message(),
            r#"unsupported event "nope""#
        );
    }
}
