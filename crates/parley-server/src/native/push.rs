//! Pushes of the native protocol: frames the server sends unasked.
//!
//! Each push is built by hand around payloads that are already JSON text
//! (publication data, token info, member state), so those are copied once
//! and never parsed again.

use std::fmt::Write;

use parley_core::{
    Frame, FrameEncoder, Member, PresenceConnection, PresencePage, Publication, Push, Typer,
    UserStatus,
};

/// Encodes pushes as native frames.
#[derive(Debug, Default)]
pub struct NativeEncoder;

impl FrameEncoder for NativeEncoder {
    fn encode(&self, push: &Push<'_>) -> Frame {
        let mut out = Json::push(match push {
            Push::Publication(publication) => publication.kind.as_str(),
            Push::Join { .. } => "join",
            Push::Leave { .. } => "leave",
            Push::PresenceDiff { .. } => "presence_diff",
            Push::PresenceUpdate { .. } => "presence_update",
            Push::PresenceStats { .. } => "presence_stats",
            Push::Typing { .. } => "typing",
            Push::UserStatus { .. } => "user_status",
        });
        out.string("channel", push.channel().as_str());
        match push {
            Push::Publication(publication) => out.publication(publication),
            Push::Join { member, .. } | Push::PresenceUpdate { member, .. } => {
                out.key("member");
                out.member(member);
            }
            Push::Leave { user, .. } => out.string("user", user),
            Push::PresenceDiff { joins, leaves, .. } => {
                out.key("joins");
                out.array(joins.iter(), Json::member);
                out.key("leaves");
                out.array(leaves.iter(), |out, user| out.quoted(user));
            }
            Push::PresenceStats { stats, .. } => {
                let _ = write!(
                    out.out,
                    r#","num_users":{},"num_connections":{},"num_anonymous":{}"#,
                    stats.num_users, stats.num_connections, stats.num_anonymous
                );
            }
            Push::Typing { typers, .. } => {
                out.key("users");
                out.array(typers.iter(), Json::typer);
            }
            Push::UserStatus { status, .. } => out.status_fields(status),
        }
        Frame::new(out.finish())
    }
}

/// `{"members": [...], "next": "cursor"}`: a page of members, for replies.
pub fn members_json(page: &PresencePage) -> String {
    let mut out = Json {
        out: String::with_capacity(64 + 96 * page.members.len()),
    };
    out.out.push_str(r#"{"members":"#);
    out.array(page.members.iter(), Json::listed_member);
    if let Some(next) = &page.next {
        out.string("next", next);
    }
    out.finish()
}

/// `{"members": [...], "next"?, "anonymous": [connection, ...]}`: a page of
/// members with the anonymous viewers' connections, which only the backend
/// is shown.
pub fn members_and_anonymous_json(page: &PresencePage, anonymous: &[PresenceConnection]) -> String {
    let mut out = Json {
        out: String::with_capacity(64 + 96 * page.members.len() + 64 * anonymous.len()),
    };
    out.out.push_str(r#"{"members":"#);
    out.array(page.members.iter(), Json::listed_member);
    if let Some(next) = &page.next {
        out.string("next", next);
    }
    out.key("anonymous");
    out.array(anonymous.iter(), Json::connection);
    out.finish()
}

/// A JSON object written field by field.
pub(crate) struct Json {
    out: String,
}

impl Json {
    fn push(kind: &str) -> Self {
        let mut out = String::with_capacity(160);
        out.push_str(r#"{"push":""#);
        out.push_str(kind);
        out.push('"');
        Self { out }
    }

    fn key(&mut self, key: &str) {
        let _ = write!(self.out, r#","{key}":"#);
    }

    fn quoted(&mut self, value: &str) {
        let quoted = serde_json::to_string(value).expect("strings serialize to JSON");
        self.out.push_str(&quoted);
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        self.quoted(value);
    }

    /// A field whose value is already JSON text: validated when published,
    /// and checked to be UTF-8 wherever it is read back (the store's rows,
    /// Redis messages). `null` rather than a panic if that ever broke: this
    /// runs inside a broadcast, for every subscriber of the channel.
    fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.out
            .push_str(std::str::from_utf8(json).unwrap_or("null"));
    }

    fn array<T>(&mut self, items: impl Iterator<Item = T>, mut write: impl FnMut(&mut Self, T)) {
        self.out.push('[');
        for (index, item) in items.enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            write(self, item);
        }
        self.out.push(']');
    }

    fn publication(&mut self, publication: &Publication) {
        self.raw("data", &publication.data);
        let _ = write!(self.out, r#","offset":{}"#, publication.position.offset);
        self.string("epoch", &publication.position.epoch);
        if let Some(info) = &publication.info {
            let _ = write!(self.out, r#","info":{{"client":"{}""#, info.client);
            self.string("user", &info.user);
            if let Some(conn_info) = &info.info {
                self.raw("info", conn_info);
            }
            self.out.push('}');
        }
    }

    fn member(&mut self, member: &Member) {
        self.out.push_str(r#"{"user":"#);
        self.quoted(&member.user);
        if let Some(name) = &member.info.name {
            self.string("name", name);
        }
        if let Some(avatar) = &member.info.avatar {
            self.string("avatar", avatar);
        }
        if let Some(info) = &member.info.info {
            self.raw("info", info);
        }
        if let Some(state) = &member.state {
            self.raw("state", state);
        }
        self.out.push('}');
    }

    /// A member as a presence page lists them: as pushes show them, with
    /// their join time and their connections. Pushes leave those out: a
    /// join's time is the push's, and a storm of joins need not carry
    /// every connection.
    fn listed_member(&mut self, member: &Member) {
        self.member(member);
        self.out.pop();
        let _ = write!(self.out, r#","joined_at":{}"#, member.joined_at);
        self.key("connections");
        self.array(member.connections.iter(), Json::connection);
        self.out.push('}');
    }

    /// `{"state"?, "joined_at", "last_seen"}`: one connection of a member
    /// or of an anonymous viewer.
    fn connection(&mut self, connection: &PresenceConnection) {
        let _ = write!(
            self.out,
            r#"{{"joined_at":{},"last_seen":{}"#,
            connection.joined_at, connection.last_seen
        );
        if let Some(state) = &connection.state {
            self.raw("state", state);
        }
        self.out.push('}');
    }

    fn typer(&mut self, typer: &Typer) {
        self.out.push_str(r#"{"user":"#);
        self.quoted(&typer.user);
        if let Some(name) = &typer.name {
            self.string("name", name);
        }
        self.out.push('}');
    }

    fn status_fields(&mut self, status: &UserStatus) {
        self.string("user", &status.user);
        self.string("status", status.status.as_str());
        if let Some(last_seen) = status.last_seen {
            let _ = write!(self.out, r#","last_seen":{last_seen}"#);
        }
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parley_core::{ChannelName, ClientId, ClientInfo, MemberInfo, Status, StreamPosition};
    use serde_json::{Value, json};

    use super::*;

    fn encode(push: Push<'_>) -> Value {
        serde_json::from_str(NativeEncoder.encode(&push).as_str()).unwrap()
    }

    #[test]
    fn publication_push_is_valid_json() {
        let publication = Publication {
            kind: Default::default(),
            channel: ChannelName::new(r#"chat:"quoted"\"#).unwrap(),
            data: r#"{"text":"hi"}"#.into(),
            position: StreamPosition {
                offset: 12,
                epoch: "ab12".into(),
            },
            info: Some(ClientInfo {
                client: ClientId {
                    node: 3,
                    sequence: 9,
                },
                user: "42".into(),
                info: Some(r#"{"color":"red"}"#.into()),
            }),
            author: None,
            audience: None,
        };
        assert_eq!(
            encode(Push::Publication(&publication)),
            json!({
                "push": "publication", "channel": r#"chat:"quoted"\"#, "data": {"text": "hi"},
                "offset": 12, "epoch": "ab12",
                "info": {"client": "3.9", "user": "42", "info": {"color": "red"}}
            })
        );
    }

    #[test]
    fn presence_pushes() {
        let channel = ChannelName::new("room").unwrap();
        let member = Member {
            user: "42".into(),
            info: Arc::new(MemberInfo {
                name: Some("Ann \"A\"".into()),
                avatar: None,
                info: Some(r#"{"team":1}"#.into()),
            }),
            state: Some(r#"{"page":5}"#.into()),
            ..Member::default()
        };
        assert_eq!(
            encode(Push::Join {
                channel: &channel,
                member: &member
            }),
            json!({"push": "join", "channel": "room",
                   "member": {"user": "42", "name": "Ann \"A\"", "info": {"team": 1}, "state": {"page": 5}}})
        );
        let leaves = [Arc::<str>::from("7"), Arc::from("8")];
        assert_eq!(
            encode(Push::PresenceDiff {
                channel: &channel,
                joins: std::slice::from_ref(&member),
                leaves: &leaves
            })["leaves"],
            json!(["7", "8"])
        );
        let typers = [Typer {
            user: "1".into(),
            name: None,
        }];
        assert_eq!(
            encode(Push::Typing {
                channel: &channel,
                typers: &typers
            }),
            json!({"push": "typing", "channel": "room", "users": [{"user": "1"}]})
        );
        let status = UserStatus {
            user: "1".into(),
            status: Status::Offline,
            last_seen: Some(99),
        };
        assert_eq!(
            encode(Push::UserStatus {
                channel: &channel,
                status: &status
            }),
            json!({"push": "user_status", "channel": "room", "user": "1", "status": "offline", "last_seen": 99})
        );
    }
}
