//! Pushes of the Pusher protocol: every `Push` as a Pusher event.
//!
//! A publication whose data is `{"event": name, "data": ...}` (what a Pusher
//! client event or the Pusher HTTP API publishes) becomes the event `name`
//! with that data; any other publication (a native client's) becomes the
//! event `publication` with the publication's data as it is.
//!
//! Pusher never echoes a client event to its sender: the encoder tells the
//! hub not to deliver a publication to the connection that published it.

use std::borrow::Cow;

use parley_core::{ClientHandle, Frame, FrameEncoder, Member, Publication, PublicationKind, Push};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The event a publication without an event name is delivered as.
pub const PUBLICATION_EVENT: &str = "publication";

/// Encodes pushes as Pusher events.
#[derive(Debug, Default)]
pub struct PusherEncoder;

/// One event as Pusher clients read it.
#[derive(Serialize)]
pub struct Event<'a, D: Serialize + ?Sized> {
    /// The event name.
    pub event: &'a str,
    /// The channel, for channel events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    /// The data: a JSON-encoded string for `pusher:` and `pusher_internal:`
    /// events, the published value for the others.
    pub data: &'a D,
    /// The sender of a client event on a presence channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
}

impl<D: Serialize + ?Sized> Event<'_, D> {
    /// The event as a frame.
    pub fn frame(&self) -> Frame {
        Frame::new(serde_json::to_string(self).expect("events serialize to JSON"))
    }
}

/// The data of a publication that carries a Pusher event.
#[derive(Deserialize)]
pub struct Envelope<'a> {
    /// The event name.
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    /// The event data.
    #[serde(borrow)]
    pub data: Option<&'a RawValue>,
    /// The sender's user id, for client events on presence channels.
    #[serde(borrow, default)]
    pub user_id: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct MemberData<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_info: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct PresenceCounts {
    num_users: usize,
    num_connections: usize,
    num_anonymous: usize,
}

#[derive(Serialize)]
struct Diff<'a> {
    joins: Vec<MemberData<'a>>,
    leaves: &'a [std::sync::Arc<str>],
}

impl FrameEncoder for PusherEncoder {
    fn encode(&self, push: &Push<'_>) -> Frame {
        let channel = Some(push.channel().as_str());
        match push {
            Push::Publication(publication) => publication_frame(publication),
            Push::Join { member, .. } => internal_event(
                "pusher_internal:member_added",
                channel,
                &member_data(member),
            ),
            Push::Leave { user, .. } => internal_event(
                "pusher_internal:member_removed",
                channel,
                &MemberData {
                    user_id: user,
                    user_info: None,
                },
            ),
            // Pusher has no batched presence event. Pusher connections join
            // and leave without batching, so a diff only comes from leases
            // expiring in a namespace that batches; it goes out under a name
            // pusher-js ignores unless bound.
            Push::PresenceDiff { joins, leaves, .. } => internal_event(
                "parley:presence_diff",
                channel,
                &Diff {
                    joins: joins.iter().map(member_data).collect(),
                    leaves,
                },
            ),
            Push::PresenceUpdate { member, .. } => {
                internal_event("parley:presence_update", channel, &member_data(member))
            }
            // Pusher clients count with `subscription_count` where the app
            // enables it; the live presence counts go out under a name
            // pusher-js ignores unless bound, as the other Parley extras.
            Push::PresenceStats { stats, .. } => internal_event(
                "parley:presence_stats",
                channel,
                &PresenceCounts {
                    num_users: stats.num_users,
                    num_connections: stats.num_connections,
                    num_anonymous: stats.num_anonymous,
                },
            ),
            Push::Typing { .. } => internal_event("parley:typing", channel, &()),
            Push::UserStatus { status, .. } => internal_event(
                "parley:user_status",
                channel,
                &MemberData {
                    user_id: &status.user,
                    user_info: None,
                },
            ),
        }
    }

    /// Every push but a client's own publication: Pusher never returns a
    /// client event to the connection that sent it.
    fn delivers(&self, push: &Push<'_>, client: &ClientHandle) -> bool {
        !matches!(push, Push::Publication(publication)
            if publication.info.as_ref().is_some_and(|info| info.client == client.id))
    }
}

fn member_data(member: &Member) -> MemberData<'_> {
    MemberData {
        user_id: &member.user,
        user_info: member
            .info
            .info
            .as_ref()
            .and_then(|info| std::str::from_utf8(info).ok())
            .and_then(|info| serde_json::from_str(info).ok()),
    }
}

/// An event whose data is JSON-encoded into a string, as Pusher sends its
/// own events.
pub fn internal_event(event: &str, channel: Option<&str>, data: &impl Serialize) -> Frame {
    let data = serde_json::to_string(data).expect("event data serializes to JSON");
    Event {
        event,
        channel,
        data: &data,
        user_id: None,
    }
    .frame()
}

fn publication_frame(publication: &Publication) -> Frame {
    let channel = Some(publication.channel.as_str());
    let text = std::str::from_utf8(&publication.data).unwrap_or("null");
    if publication.kind == PublicationKind::Publication
        && let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text)
    {
        let null = RawValue::NULL;
        return Event {
            event: &envelope.event,
            channel,
            data: envelope.data.unwrap_or(null),
            user_id: envelope.user_id.as_deref(),
        }
        .frame();
    }
    let data: &RawValue = serde_json::from_str(text).unwrap_or(RawValue::NULL);
    Event {
        event: match &publication.kind {
            PublicationKind::Publication => PUBLICATION_EVENT,
            other => other.as_str(),
        },
        channel,
        data,
        user_id: None,
    }
    .frame()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parley_core::{
        ChannelName, ClientId, ClientInfo, EncoderRegistry, MemberInfo, StreamPosition,
    };
    use serde_json::{Value, json};

    use super::*;

    fn encode(push: Push<'_>) -> Value {
        serde_json::from_str(PusherEncoder.encode(&push).as_str()).unwrap()
    }

    fn publication(data: &str) -> Publication {
        Publication {
            kind: PublicationKind::Publication,
            channel: ChannelName::new("private-room").unwrap(),
            data: data.to_owned().into(),
            position: StreamPosition {
                offset: 1,
                epoch: "e".into(),
            },
            info: None,
            author: None,
            audience: None,
        }
    }

    #[test]
    fn an_envelope_becomes_its_event() {
        let envelope = publication(r#"{"event":"client-typing","data":{"a":1},"user_id":"7"}"#);
        assert_eq!(
            encode(Push::Publication(&envelope)),
            json!({"event": "client-typing", "channel": "private-room", "data": {"a": 1}, "user_id": "7"})
        );
        let plain = publication(r#"{"text":"hi"}"#);
        assert_eq!(
            encode(Push::Publication(&plain)),
            json!({"event": "publication", "channel": "private-room", "data": {"text": "hi"}})
        );
    }

    /// Pusher never returns a client event to the connection that sent it;
    /// everybody else, and every other push, gets through.
    #[test]
    fn a_client_event_is_withheld_from_its_sender() {
        let encoder = EncoderRegistry::default().register(PusherEncoder).unwrap();
        let connection = |sequence| {
            let id = ClientId { node: 1, sequence };
            ClientHandle::new(id, "app".into(), encoder.clone(), 1024)
        };
        let (sender, other) = (connection(1), connection(2));
        let mut event = publication(r#"{"event":"client-hi","data":1}"#);
        event.info = Some(ClientInfo {
            client: sender.id,
            user: "".into(),
            info: None,
        });
        let push = Push::Publication(&event);
        assert!(!encoder.delivers(&push, &sender));
        assert!(encoder.delivers(&push, &other));
        let leave = Push::Leave {
            channel: &event.channel,
            user: "7",
        };
        assert!(encoder.delivers(&leave, &sender));
    }

    #[test]
    fn members_carry_their_user_info_in_a_string() {
        let channel = ChannelName::new("presence-room").unwrap();
        let member = Member {
            user: "42".into(),
            info: Arc::new(MemberInfo {
                info: Some(r#"{"name":"Ann"}"#.into()),
                ..MemberInfo::default()
            }),
            ..Member::default()
        };
        let added = encode(Push::Join {
            channel: &channel,
            member: &member,
        });
        assert_eq!(added["event"], "pusher_internal:member_added");
        let data: Value = serde_json::from_str(added["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, json!({"user_id": "42", "user_info": {"name": "Ann"}}));
        let removed = encode(Push::Leave {
            channel: &channel,
            user: "42",
        });
        assert_eq!(removed["data"], r#"{"user_id":"42"}"#);
    }
}
