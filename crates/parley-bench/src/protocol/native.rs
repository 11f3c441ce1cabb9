//! Parley's native protocol, client side.
//!
//! ```text
//! → {"id":1,"method":"connect","params":{"token":"…"}}
//! ← {"id":1,"result":{"client":"…",…}}
//! → {"id":2,"method":"subscribe","params":{"channel":"bench:1"}}
//! → {"id":3,"method":"publish","params":{"channel":"bench:1","data":{…}}}
//! ← {"push":"publication","channel":"bench:1","data":{…},"offset":12,"epoch":"…"}
//! ```
//!
//! Replies are recognized by their bytes: `{"id":` starts every reply, and
//! an error reply holds `"error":`.

use memchr::memmem;
use serde::Deserialize;

use super::{
    Conn, Inbound, PresenceInbound, PresenceKind, StreamInbound, excerpt, next_text, send_all,
};

/// A stream position: the offset of a channel's publication and the epoch
/// of the stream it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Position {
    /// The offset.
    pub offset: u64,
    /// The epoch.
    pub epoch: String,
}

/// A `subscribe` reply: the stream's position, and with `since`, whether
/// what the client missed follows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscribeReply {
    /// The stream's position when the subscription was made.
    #[serde(flatten)]
    pub position: Position,
    /// Present when the subscribe asked to recover (`since`).
    pub recovered: Option<bool>,
}

/// Sends `connect` with `token` and waits for its reply.
pub async fn connect(conn: &mut Conn, token: &str) -> Result<(), String> {
    let id = conn.take_id();
    let frame = format!(r#"{{"id":{id},"method":"connect","params":{{"token":"{token}"}}}}"#);
    send_all(&mut conn.ws, [frame]).await?;
    loop {
        let reply = next_text(&mut conn.ws).await?;
        match reply_id(reply.as_bytes()) {
            Some(got) if got == id => {
                if is_error(reply.as_bytes()) {
                    return Err(format!("connect refused: {}", excerpt(&reply)));
                }
                conn.socket_id = client_id(&reply).unwrap_or_default();
                return Ok(());
            }
            _ => {}
        }
    }
}

/// A `subscribe` command.
pub fn subscribe_frame(id: u64, channel: &str) -> String {
    format!(r#"{{"id":{id},"method":"subscribe","params":{{"channel":"{channel}"}}}}"#)
}

/// A `subscribe` command that asks to recover what the client missed
/// after `since`. The epoch is the server's, so it is written as a JSON
/// string with escaping.
pub fn subscribe_since_frame(id: u64, channel: &str, since: &Position) -> String {
    let epoch = serde_json::Value::from(since.epoch.as_str());
    format!(
        r#"{{"id":{id},"method":"subscribe","params":{{"channel":"{channel}","since":{{"offset":{},"epoch":{epoch}}}}}}}"#,
        since.offset
    )
}

/// Sends one `subscribe` per channel, then waits for every reply.
pub async fn subscribe(conn: &mut Conn, channels: &[String]) -> Result<(), String> {
    let first = conn.next_id;
    let frames: Vec<String> = channels
        .iter()
        .map(|channel| subscribe_frame(conn.take_id(), channel))
        .collect();
    let last = conn.next_id;
    send_all(&mut conn.ws, frames).await?;
    let mut confirmed = 0;
    while confirmed < channels.len() {
        let reply = next_text(&mut conn.ws).await?;
        if let Some(id) = reply_id(reply.as_bytes())
            && (first..last).contains(&id)
        {
            if is_error(reply.as_bytes()) {
                return Err(format!("subscribe refused: {}", excerpt(&reply)));
            }
            confirmed += 1;
        }
    }
    Ok(())
}

/// A `publish` command. `channel` and `payload` are the generator's own
/// (a plain name and a JSON object), so they are written as they are.
pub fn publish_frame(id: u64, channel: &str, payload: &str) -> String {
    format!(
        r#"{{"id":{id},"method":"publish","params":{{"channel":"{channel}","data":{payload}}}}}"#
    )
}

/// A `message_send` command. `channel` and `text` are the generator's own
/// (a plain name and letters, digits and spaces), so they are written as
/// they are.
pub fn message_send_frame(id: u64, channel: &str, text: &str) -> String {
    format!(
        r#"{{"id":{id},"method":"message_send","params":{{"channel":"{channel}","text":"{text}"}}}}"#
    )
}

/// A `presence` command: the first page of the channel's members.
pub fn presence_frame(id: u64, channel: &str) -> String {
    format!(r#"{{"id":{id},"method":"presence","params":{{"channel":"{channel}"}}}}"#)
}

/// Reads frames until the replies to commands `ids` have all arrived,
/// skipping pushes; returns the replies that were errors, with an excerpt
/// of the first.
pub async fn await_replies(
    conn: &mut Conn,
    ids: std::ops::Range<u64>,
) -> Result<(u64, Option<String>), String> {
    let mut answered = 0;
    let mut errors = 0;
    let mut first_error = None;
    while answered < ids.end.saturating_sub(ids.start) {
        let reply = next_text(&mut conn.ws).await?;
        if let Some(id) = reply_id(reply.as_bytes())
            && ids.contains(&id)
        {
            answered += 1;
            if is_error(reply.as_bytes()) {
                errors += 1;
                first_error.get_or_insert_with(|| excerpt(&reply));
            }
        }
    }
    Ok((errors, first_error))
}

/// What a frame without a payload is.
pub fn classify(frame: &[u8]) -> Inbound {
    if frame.starts_with(br#"{"id":"#) {
        if is_error(frame) {
            Inbound::Error
        } else {
            Inbound::Ack
        }
    } else if frame.starts_with(br#"{"error":"#) {
        Inbound::Error
    } else {
        Inbound::Other
    }
}

/// What a frame is, during a presence storm, where the only command in
/// flight is the `subscribe`. Members are counted by their `{"user":`
/// objects (the generator's tokens carry no info that could hold one).
pub fn presence_inbound(frame: &[u8]) -> PresenceInbound {
    const PUSH: &[u8] = br#"{"push":""#;
    if frame.starts_with(br#"{"id":"#) {
        return if is_error(frame) {
            PresenceInbound::Refused
        } else {
            PresenceInbound::Subscribed
        };
    }
    let Some(rest) = frame.strip_prefix(PUSH) else {
        return PresenceInbound::Other;
    };
    let (kind, members) = if rest.starts_with(br#"join""#) {
        (PresenceKind::Join, 1)
    } else if rest.starts_with(br#"presence_diff""#) {
        let members = memmem::find_iter(frame, br#"{"user":"#).count() as u64;
        (PresenceKind::Batch, members)
    } else if rest.starts_with(br#"leave""#) {
        (PresenceKind::Leave, 0)
    } else {
        return PresenceInbound::Other;
    };
    PresenceInbound::Presence { kind, members }
}

/// What a frame is, on a connection whose only command in flight is a
/// `subscribe`: its reply, a publication with its stream position, or
/// something else. Publications are found by their bytes: the generator's
/// payload holds no `"offset":`, so the first one after it is the push's.
pub fn stream_inbound(frame: &[u8]) -> StreamInbound<'_> {
    const PUBLICATION: &[u8] = br#"{"push":"publication","#;
    if frame.starts_with(PUBLICATION) {
        return StreamInbound::Publication(publication_position(frame));
    }
    if !frame.starts_with(br#"{"id":"#) {
        return StreamInbound::Other;
    }
    if is_error(frame) {
        return StreamInbound::Refused;
    }
    #[derive(Deserialize)]
    struct Reply {
        result: SubscribeReply,
    }
    match serde_json::from_slice::<Reply>(frame) {
        Ok(reply) => StreamInbound::Subscribed(Some(reply.result)),
        Err(_) => StreamInbound::Refused,
    }
}

/// The offset and epoch of a publication push, found in its bytes.
fn publication_position(frame: &[u8]) -> Option<(u64, &[u8])> {
    const OFFSET: &[u8] = br#""offset":"#;
    const EPOCH: &[u8] = br#""epoch":""#;
    let at = memmem::find(frame, OFFSET)? + OFFSET.len();
    let digits = &frame[at..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let offset = std::str::from_utf8(&digits[..len]).ok()?.parse().ok()?;
    let rest = &digits[len..];
    let start = memmem::find(rest, EPOCH)? + EPOCH.len();
    let len = memchr::memchr(b'"', &rest[start..])?;
    Some((offset, &rest[start..start + len]))
}

/// The id of a reply, when the frame is one.
fn reply_id(frame: &[u8]) -> Option<u64> {
    let digits = frame.strip_prefix(br#"{"id":"#)?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

fn is_error(frame: &[u8]) -> bool {
    memmem::find(frame, br#""error":"#).is_some()
}

/// The `client` of a connect reply.
fn client_id(reply: &str) -> Option<String> {
    let start = reply.find(r#""client":""#)? + r#""client":""#.len();
    let len = reply[start..].find('"')?;
    Some(reply[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_told_apart_by_their_bytes() {
        assert_eq!(
            classify(br#"{"id":12,"result":{"offset":3,"epoch":"e"}}"#),
            Inbound::Ack
        );
        assert_eq!(
            classify(br#"{"id":12,"error":{"code":429,"message":"too many commands"}}"#),
            Inbound::Error
        );
        assert_eq!(
            classify(br#"{"error":{"code":400,"message":"x"}}"#),
            Inbound::Error
        );
        assert_eq!(
            classify(br#"{"push":"disconnect","code":4201,"reason":"slow","reconnect":true}"#),
            Inbound::Other
        );
        assert_eq!(reply_id(br#"{"id":42,"result":{}}"#), Some(42));
        assert_eq!(reply_id(br#"{"push":"publication"}"#), None);
    }

    #[test]
    fn presence_pushes_are_told_apart_and_their_joins_counted() {
        assert_eq!(
            presence_inbound(br#"{"id":2,"result":{"channel":"room:1"}}"#),
            PresenceInbound::Subscribed
        );
        assert_eq!(
            presence_inbound(br#"{"id":2,"error":{"code":403,"message":"no"}}"#),
            PresenceInbound::Refused
        );
        assert_eq!(
            presence_inbound(br#"{"push":"join","channel":"room:1","member":{"user":"bench-1"}}"#),
            PresenceInbound::Presence {
                kind: PresenceKind::Join,
                members: 1
            }
        );
        let diff = br#"{"push":"presence_diff","channel":"room:1","joins":[{"user":"bench-1"},{"user":"bench-2","name":"B"}],"leaves":["bench-3"]}"#;
        assert_eq!(
            presence_inbound(diff),
            PresenceInbound::Presence {
                kind: PresenceKind::Batch,
                members: 2
            }
        );
        assert_eq!(
            presence_inbound(br#"{"push":"leave","channel":"room:1","user":"bench-3"}"#),
            PresenceInbound::Presence {
                kind: PresenceKind::Leave,
                members: 0
            }
        );
        assert_eq!(
            presence_inbound(br#"{"push":"publication","channel":"room:1","data":{}}"#),
            PresenceInbound::Other
        );
        let frame = subscribe_frame(3, "room:1");
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["params"]["channel"], "room:1");
    }

    #[test]
    fn stream_frames_give_their_positions() {
        let payload = crate::payload::build(5, 6, 60);
        let push = format!(
            r#"{{"push":"publication","channel":"recovery:1","data":{payload},"offset":12,"epoch":"ab12","info":{{"client":"1.2","user":"u","info":{{"offset":99}}}}}}"#
        );
        assert_eq!(
            stream_inbound(push.as_bytes()),
            StreamInbound::Publication(Some((12, &b"ab12"[..])))
        );
        let reply = br#"{"id":2,"result":{"channel":"recovery:1","offset":15,"epoch":"ab12","recovered":true}}"#;
        assert_eq!(
            stream_inbound(reply),
            StreamInbound::Subscribed(Some(SubscribeReply {
                position: Position {
                    offset: 15,
                    epoch: "ab12".into()
                },
                recovered: Some(true),
            }))
        );
        let plain = br#"{"id":2,"result":{"channel":"recovery:1","offset":0,"epoch":"e"}}"#;
        let StreamInbound::Subscribed(Some(reply)) = stream_inbound(plain) else {
            panic!("not a reply");
        };
        assert_eq!(reply.recovered, None);
        assert_eq!(
            stream_inbound(br#"{"id":2,"error":{"code":403,"message":"no"}}"#),
            StreamInbound::Refused
        );
        assert_eq!(
            stream_inbound(br#"{"push":"join","channel":"room:1"}"#),
            StreamInbound::Other
        );
        let since = Position {
            offset: 7,
            epoch: "e\"x".into(),
        };
        let frame = subscribe_since_frame(4, "recovery:1", &since);
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["params"]["since"]["offset"], 7);
        assert_eq!(value["params"]["since"]["epoch"], "e\"x");
    }

    #[test]
    fn publish_frames_are_valid_commands() {
        let frame = publish_frame(9, "bench:3", r#"{"t":1,"s":2,"p":""}"#);
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["id"], 9);
        assert_eq!(value["method"], "publish");
        assert_eq!(value["params"]["channel"], "bench:3");
        assert_eq!(value["params"]["data"]["t"], 1);
    }

    #[test]
    fn the_client_id_is_read_from_the_connect_reply() {
        let reply = r#"{"id":1,"result":{"client":"1.7","user":"bench-0","subscriptions":[]}}"#;
        assert_eq!(client_id(reply).as_deref(), Some("1.7"));
    }
}
