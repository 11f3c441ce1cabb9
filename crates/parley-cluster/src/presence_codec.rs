//! Presence as it travels through Redis: a member's info as the presence
//! hash keeps it, and the presence changes nodes send each other.
//!
//! Binary and length-prefixed like publications (`codec.rs`), versioned by
//! the first byte. Texts that reach the encoders unchecked (states, info)
//! are checked to be UTF-8 when read back.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes};
use parley_core::{
    ChannelName, Member, MemberInfo, PresenceConnection, PresenceEvent, Status, Typer, UserStatus,
};

use crate::codec::{CodecError, byte, json_text, put_opt, put_str, take, take_opt, text};

const VERSION: u8 = 1;

const JOINED: u8 = 1;
const STATE_REPLACED: u8 = 2;
const LEFT: u8 = 3;
const COUNTS: u8 = 4;
const TYPING: u8 = 5;
const STATUS: u8 = 6;

/// A member's name, avatar and info, as the presence hash keeps them.
pub(crate) fn encode_info(info: &MemberInfo) -> Vec<u8> {
    let mut out = Vec::new();
    put_info(&mut out, info);
    out
}

/// Reads a member's info back; unreadable info reads as none.
pub(crate) fn decode_info(bytes: Bytes) -> MemberInfo {
    let mut bytes = bytes;
    take_info(&mut bytes).unwrap_or_default()
}

fn put_info(out: &mut Vec<u8>, info: &MemberInfo) {
    put_opt(out, info.name.as_deref().map(str::as_bytes));
    put_opt(out, info.avatar.as_deref().map(str::as_bytes));
    put_opt(out, info.info.as_deref());
}

fn take_info(body: &mut Bytes) -> Result<MemberInfo, CodecError> {
    let name = take_opt(body)?.map(text).transpose()?;
    let avatar = take_opt(body)?.map(text).transpose()?;
    let info = take_opt(body)?.map(json_text).transpose()?;
    Ok(MemberInfo {
        name: name.map(|name| name.to_string()),
        avatar: avatar.map(|avatar| avatar.to_string()),
        info,
    })
}

/// Writes a presence change for the other nodes.
pub(crate) fn encode_event(event: &PresenceEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.put_u8(VERSION);
    match event {
        PresenceEvent::Joined {
            app,
            channel,
            member,
        }
        | PresenceEvent::StateReplaced {
            app,
            channel,
            member,
        } => {
            let tag = if matches!(event, PresenceEvent::Joined { .. }) {
                JOINED
            } else {
                STATE_REPLACED
            };
            put_head(&mut out, tag, app, channel.as_str());
            put_member(&mut out, member);
        }
        PresenceEvent::Left { app, channel, user } => {
            put_head(&mut out, LEFT, app, channel.as_str());
            put_str(&mut out, user);
        }
        PresenceEvent::Counts { app, channel } => put_head(&mut out, COUNTS, app, channel.as_str()),
        PresenceEvent::Typing {
            app,
            channel,
            typer,
            active,
        } => {
            put_head(&mut out, TYPING, app, channel.as_str());
            put_str(&mut out, &typer.user);
            put_opt(&mut out, typer.name.as_deref().map(str::as_bytes));
            out.put_u8(u8::from(*active));
        }
        PresenceEvent::Status { app, status } => {
            put_head(&mut out, STATUS, app, &status.user);
            out.put_u8(match status.status {
                Status::Online => 0,
                Status::Away => 1,
                Status::Offline => 2,
            });
            match status.last_seen {
                None => out.put_u8(0),
                Some(seen) => {
                    out.put_u8(1);
                    out.put_u64(seen);
                }
            }
        }
    }
    out
}

fn put_head(out: &mut Vec<u8>, tag: u8, app: &str, name: &str) {
    out.put_u8(tag);
    put_str(out, app);
    put_str(out, name);
}

fn put_member(out: &mut Vec<u8>, member: &Member) {
    put_str(out, &member.user);
    put_info(out, &member.info);
    put_opt(out, member.state.as_deref());
    out.put_u64(member.joined_at);
    out.put_u32(member.connections.len() as u32);
    for connection in &member.connections {
        put_opt(out, connection.state.as_deref());
        out.put_u64(connection.joined_at);
        out.put_u64(connection.last_seen);
    }
}

/// Reads a presence change another node sent.
pub(crate) fn decode_event(payload: Bytes) -> Result<PresenceEvent, CodecError> {
    let mut body = payload;
    if byte(&mut body)? != VERSION {
        return Err(CodecError("version"));
    }
    let tag = byte(&mut body)?;
    let app = text(take(&mut body)?)?;
    let name = text(take(&mut body)?)?;
    if tag == STATUS {
        let status = match byte(&mut body)? {
            0 => Status::Online,
            1 => Status::Away,
            2 => Status::Offline,
            _ => return Err(CodecError("status")),
        };
        let last_seen = match byte(&mut body)? {
            0 => None,
            _ => Some(u64_of(&mut body)?),
        };
        return Ok(PresenceEvent::Status {
            app,
            status: UserStatus {
                user: name,
                status,
                last_seen,
            },
        });
    }
    let channel = ChannelName::new(&name).map_err(|_| CodecError("channel"))?;
    Ok(match tag {
        JOINED => PresenceEvent::Joined {
            app,
            channel,
            member: take_member(&mut body)?,
        },
        STATE_REPLACED => PresenceEvent::StateReplaced {
            app,
            channel,
            member: take_member(&mut body)?,
        },
        LEFT => PresenceEvent::Left {
            app,
            channel,
            user: text(take(&mut body)?)?,
        },
        COUNTS => PresenceEvent::Counts { app, channel },
        TYPING => {
            let user = text(take(&mut body)?)?;
            let name = take_opt(&mut body)?.map(text).transpose()?;
            let active = byte(&mut body)? != 0;
            PresenceEvent::Typing {
                app,
                channel,
                typer: Typer {
                    user,
                    name: name.map(|name| name.to_string()),
                },
                active,
            }
        }
        _ => return Err(CodecError("presence event tag")),
    })
}

fn take_member(body: &mut Bytes) -> Result<Member, CodecError> {
    let user = text(take(body)?)?;
    let info = take_info(body)?;
    let state = take_opt(body)?.map(json_text).transpose()?;
    let joined_at = u64_of(body)?;
    if body.remaining() < 4 {
        return Err(CodecError("truncated"));
    }
    let count = body.get_u32() as usize;
    // Each connection takes at least 17 bytes: a count beyond what is left
    // is damage, not a reason to allocate.
    if count > body.remaining() / 17 {
        return Err(CodecError("connections"));
    }
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        let state = take_opt(body)?.map(json_text).transpose()?;
        let joined_at = u64_of(body)?;
        let last_seen = u64_of(body)?;
        connections.push(PresenceConnection {
            state,
            joined_at,
            last_seen,
        });
    }
    Ok(Member {
        user,
        info: Arc::new(info),
        state,
        joined_at,
        connections,
    })
}

fn u64_of(body: &mut Bytes) -> Result<u64, CodecError> {
    if body.remaining() < 8 {
        return Err(CodecError("truncated"));
    }
    Ok(body.get_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Member {
        Member {
            user: Arc::from("ann"),
            info: Arc::new(MemberInfo {
                name: Some("Ann".into()),
                avatar: None,
                info: Some(Bytes::from_static(br#"{"x":1}"#)),
            }),
            state: Some(Bytes::from_static(br#"{"d":2}"#)),
            joined_at: 10,
            connections: vec![
                PresenceConnection {
                    state: None,
                    joined_at: 10,
                    last_seen: 20,
                },
                PresenceConnection {
                    state: Some(Bytes::from_static(br#"{"d":2}"#)),
                    joined_at: 15,
                    last_seen: 25,
                },
            ],
        }
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let channel = ChannelName::new("room:a.b").unwrap();
        let app: Arc<str> = Arc::from("main");
        let events = [
            PresenceEvent::Joined {
                app: app.clone(),
                channel: channel.clone(),
                member: member(),
            },
            PresenceEvent::StateReplaced {
                app: app.clone(),
                channel: channel.clone(),
                member: member(),
            },
            PresenceEvent::Left {
                app: app.clone(),
                channel: channel.clone(),
                user: Arc::from("bob"),
            },
            PresenceEvent::Counts {
                app: app.clone(),
                channel: channel.clone(),
            },
            PresenceEvent::Typing {
                app: app.clone(),
                channel: channel.clone(),
                typer: Typer {
                    user: Arc::from("bob"),
                    name: Some("Bob".into()),
                },
                active: true,
            },
            PresenceEvent::Status {
                app: app.clone(),
                status: UserStatus {
                    user: Arc::from("bob"),
                    status: Status::Offline,
                    last_seen: Some(99),
                },
            },
        ];
        for event in events {
            let bytes = Bytes::from(encode_event(&event));
            assert_eq!(decode_event(bytes.clone()).unwrap(), event);
            for cut in 0..bytes.len() {
                assert!(
                    decode_event(bytes.slice(..cut)).is_err(),
                    "{event:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn info_reads_back_and_damage_reads_as_none() {
        let info = member().info;
        assert_eq!(decode_info(Bytes::from(encode_info(&info))), *info);
        assert_eq!(
            decode_info(Bytes::from_static(b"\x07")),
            MemberInfo::default()
        );
    }
}
