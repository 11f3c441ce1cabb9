//! The Pusher Channels protocol 7, client side.
//!
//! ```text
//! GET /app/{key}?protocol=7&client=parley-bench&version=…&flash=false
//! ← {"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}
//! → {"event":"pusher:subscribe","data":{"channel":"bench-1"}}
//! ← {"event":"pusher_internal:subscription_succeeded","channel":"bench-1","data":"{}"}
//! ← {"event":"bench","channel":"bench-1","data":"{\"t\":…}"}
//! ← {"event":"pusher:ping","data":{}}   → {"event":"pusher:pong","data":{}}
//! ```
//!
//! Private channels (`private-…`) are subscribed with an auth string signed
//! by the app secret, which lets connections publish client events
//! (`client-…`) on them. Event names are matched in the frame's bytes.

use memchr::memmem;

use super::{
    Conn, Inbound, PresenceInbound, PresenceKind, StreamInbound, excerpt, next_text, send_all,
};
use crate::pusher_sign;

/// The event name of publications sent through the HTTP API.
pub const EVENT: &str = "bench";
/// The event name of publications sent from connections (client events).
pub const CLIENT_EVENT: &str = "client-bench";
/// The answer to `pusher:ping`.
pub const PONG: &str = r#"{"event":"pusher:pong","data":{}}"#;

/// The path and query of the connection URL for app `key`.
pub fn path(key: &str) -> String {
    format!(
        "/app/{key}?protocol=7&client=parley-bench&version={}&flash=false",
        env!("CARGO_PKG_VERSION")
    )
}

/// Waits for `pusher:connection_established` and keeps its socket id.
pub async fn connect(conn: &mut Conn) -> Result<(), String> {
    loop {
        let frame = next_text(&mut conn.ws).await?;
        match event(frame.as_bytes()) {
            Some(b"pusher:connection_established") => {
                conn.socket_id = socket_id(&frame)
                    .ok_or_else(|| format!("no socket_id in {}", excerpt(&frame)))?;
                return Ok(());
            }
            Some(b"pusher:error") => return Err(format!("refused: {}", excerpt(&frame))),
            _ => {}
        }
    }
}

/// Subscribes to every channel and waits for each
/// `pusher_internal:subscription_succeeded`. Private channels need the
/// app `secret` to sign their auth.
pub async fn subscribe(
    conn: &mut Conn,
    channels: &[String],
    key: &str,
    secret: Option<&str>,
) -> Result<(), String> {
    let mut frames = Vec::with_capacity(channels.len());
    for channel in channels {
        let frame = if channel.starts_with("private-") {
            let secret = secret.ok_or_else(|| {
                "private channels need the app secret: set PARLEY_APP_SECRET or --app-secret"
                    .to_owned()
            })?;
            let auth = pusher_sign::channel_auth(key, secret, &conn.socket_id, channel);
            format!(
                r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}","auth":"{auth}"}}}}"#
            )
        } else {
            subscribe_frame(channel)
        };
        frames.push(frame);
    }
    send_all(&mut conn.ws, frames).await?;
    let mut confirmed = 0;
    while confirmed < channels.len() {
        let frame = next_text(&mut conn.ws).await?;
        match event(frame.as_bytes()) {
            Some(b"pusher_internal:subscription_succeeded") => confirmed += 1,
            Some(b"pusher:ping") => send_all(&mut conn.ws, [PONG.to_owned()]).await?,
            Some(b"pusher:error" | b"pusher:subscription_error") => {
                return Err(format!("subscribe refused: {}", excerpt(&frame)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `pusher:subscribe` to the public channel `channel`.
pub fn subscribe_frame(channel: &str) -> String {
    format!(r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}"}}}}"#)
}

/// What a frame is, on a connection subscribed to public channels:
/// Pusher has no stream positions, so a publication (an event `bench`)
/// comes without one.
pub fn stream_inbound(frame: &[u8]) -> StreamInbound<'_> {
    match event(frame) {
        Some(b"pusher_internal:subscription_succeeded") => StreamInbound::Subscribed(None),
        Some(b"pusher:error" | b"pusher:subscription_error") => StreamInbound::Refused,
        Some(b"pusher:ping") => StreamInbound::Ping,
        Some(name) if name == EVENT.as_bytes() => StreamInbound::Publication(None),
        _ => StreamInbound::Other,
    }
}

/// A `pusher:subscribe` to the presence channel `channel` as `user`, with
/// the auth signed over the socket id, the channel and the channel data.
pub fn presence_subscribe_frame(
    channel: &str,
    user: &str,
    key: &str,
    secret: &str,
    socket_id: &str,
) -> String {
    let channel_data = format!(r#"{{"user_id":"{user}","user_info":{{}}}}"#);
    let signature =
        pusher_sign::hmac_sha256_hex(secret, &format!("{socket_id}:{channel}:{channel_data}"));
    let channel_data = crate::payload::as_json_string(&channel_data);
    format!(
        r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}","auth":"{key}:{signature}","channel_data":{channel_data}}}}}"#
    )
}

/// What a frame is, during a presence storm. The member list of
/// `subscription_succeeded` counts as that many joins.
pub fn presence_inbound(frame: &[u8]) -> PresenceInbound {
    match event(frame) {
        Some(b"pusher_internal:subscription_succeeded") => {
            // The subscription and the member list come in one frame; the
            // scenario counts the frame both ways.
            PresenceInbound::Subscribed
        }
        Some(b"pusher_internal:member_added") => PresenceInbound::Presence {
            kind: PresenceKind::Join,
            members: 1,
        },
        Some(b"pusher_internal:member_removed") => PresenceInbound::Presence {
            kind: PresenceKind::Leave,
            members: 0,
        },
        Some(b"pusher:error" | b"pusher:subscription_error") => PresenceInbound::Refused,
        Some(b"pusher:ping") => PresenceInbound::Ping,
        _ => PresenceInbound::Other,
    }
}

/// The member count of a presence `subscription_succeeded`, whose data
/// is a JSON-encoded string holding `\"count\":N`.
pub fn member_count(frame: &[u8]) -> u64 {
    const KEY: &[u8] = br#"\"count\":"#;
    let Some(at) = memmem::find(frame, KEY) else {
        return 0;
    };
    let digits = &frame[at + KEY.len()..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len])
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// A client event carrying `payload` (a JSON object) on `channel`.
pub fn client_event_frame(channel: &str, payload: &str) -> String {
    format!(r#"{{"event":"{CLIENT_EVENT}","channel":"{channel}","data":{payload}}}"#)
}

/// What a frame without a payload is.
pub fn classify(frame: &[u8]) -> Inbound {
    match event(frame) {
        Some(b"pusher:ping") => Inbound::Ping,
        Some(b"pusher:error") => Inbound::Error,
        _ => Inbound::Other,
    }
}

/// The value of the frame's `"event"` field, found in its bytes.
fn event(frame: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = br#""event":"#;
    let mut start = memmem::find(frame, KEY)? + KEY.len();
    while frame.get(start)?.is_ascii_whitespace() {
        start += 1;
    }
    let rest = frame.get(start..)?.strip_prefix(b"\"")?;
    let len = memchr::memchr(b'"', rest)?;
    Some(&rest[..len])
}

/// The socket id in `pusher:connection_established`, whose data is a
/// JSON-encoded string (`\"socket_id\":\"1.2\"`) or, from lenient
/// servers, an object. Socket ids are digits and one dot.
fn socket_id(frame: &str) -> Option<String> {
    let start = frame.find("socket_id")? + "socket_id".len();
    let rest = frame[start..].trim_start_matches(['\\', '"', ':', ' ']);
    let len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    (len > 0).then(|| rest[..len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_found_in_the_bytes() {
        assert_eq!(
            event(br#"{"event":"pusher:ping","data":{}}"#),
            Some(&b"pusher:ping"[..])
        );
        assert_eq!(
            event(br#"{"channel":"x","event": "bench","data":"{}"}"#),
            Some(&b"bench"[..])
        );
        assert_eq!(event(br#"{"data":{}}"#), None);
        assert_eq!(
            classify(br#"{"event":"pusher:ping","data":{}}"#),
            Inbound::Ping
        );
        assert_eq!(
            classify(br#"{"event":"pusher:error","data":{"code":4301,"message":"x"}}"#),
            Inbound::Error
        );
        assert_eq!(
            classify(br#"{"event":"pusher_internal:subscription_succeeded"}"#),
            Inbound::Other
        );
    }

    #[test]
    fn socket_ids_are_read_from_string_and_object_data() {
        let established = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}"#;
        assert_eq!(socket_id(established).as_deref(), Some("123.456"));
        let lenient = r#"{"event":"pusher:connection_established","data":{"socket_id": "7.8"}}"#;
        assert_eq!(socket_id(lenient).as_deref(), Some("7.8"));
        assert_eq!(socket_id(r#"{"data":"{\"socket_id\":\"\"}"}"#), None);
    }

    #[test]
    fn the_url_asks_for_protocol_7() {
        assert!(path("k").starts_with("/app/k?protocol=7&client=parley-bench&version="));
    }

    #[test]
    fn presence_frames_are_told_apart() {
        let succeeded = br#"{"event":"pusher_internal:subscription_succeeded","channel":"presence-storm","data":"{\"presence\":{\"ids\":[\"bench-0\",\"bench-1\"],\"hash\":{},\"count\":2}}"}"#;
        assert_eq!(presence_inbound(succeeded), PresenceInbound::Subscribed);
        assert_eq!(member_count(succeeded), 2);
        assert_eq!(
            presence_inbound(
                br#"{"event":"pusher_internal:member_added","channel":"presence-storm","data":"{\"user_id\":\"bench-2\"}"}"#
            ),
            PresenceInbound::Presence {
                kind: PresenceKind::Join,
                members: 1
            }
        );
        let frame = presence_subscribe_frame("presence-storm", "bench-1", "k", "s", "1.2");
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        let channel_data = value["data"]["channel_data"].as_str().unwrap();
        let signature =
            pusher_sign::hmac_sha256_hex("s", &format!("1.2:presence-storm:{channel_data}"));
        assert_eq!(value["data"]["auth"], format!("k:{signature}"));
    }

    #[test]
    fn stream_frames_are_told_apart() {
        assert_eq!(
            stream_inbound(br#"{"event":"pusher_internal:subscription_succeeded","channel":"bench-1","data":"{}"}"#),
            StreamInbound::Subscribed(None)
        );
        assert_eq!(
            stream_inbound(br#"{"event":"bench","channel":"bench-1","data":"{\"t\":1}"}"#),
            StreamInbound::Publication(None)
        );
        assert_eq!(
            stream_inbound(br#"{"event":"pusher:ping","data":{}}"#),
            StreamInbound::Ping
        );
        assert_eq!(
            stream_inbound(br#"{"event":"pusher:subscription_error","data":{}}"#),
            StreamInbound::Refused
        );
        let value: serde_json::Value = serde_json::from_str(&subscribe_frame("bench-1")).unwrap();
        assert_eq!(value["data"]["channel"], "bench-1");
    }

    #[test]
    fn client_events_are_json() {
        let frame = client_event_frame("private-bench-1", r#"{"t":1,"s":2,"p":""}"#);
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["event"], CLIENT_EVENT);
        assert_eq!(value["data"]["s"], 2);
    }
}
