//! A publication as it travels through Redis.
//!
//! The publish script builds each message as `<offset> <epoch> <body>`: the
//! position is only known inside the script, and the body, written here,
//! carries the rest (app, channel, kind, publisher, author, audience, data).
//! History entries hold the same message, so live delivery and recovery
//! decode one format. The body is binary and length-prefixed, versioned by
//! its first byte; the data is the remainder, so it needs no length.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes};
use parley_core::{
    ChannelName, ClientId, ClientInfo, Publication, PublicationKind, StreamPosition,
};

const VERSION: u8 = 1;

/// Why a message from Redis could not be read back as a publication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed publication from redis: {0}")]
pub(crate) struct CodecError(pub(crate) &'static str);

/// What the body of a publication carries.
pub(crate) struct Body<'a> {
    pub app: &'a str,
    pub channel: &'a ChannelName,
    pub kind: &'a PublicationKind,
    pub info: Option<&'a ClientInfo>,
    pub author: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub data: &'a [u8],
}

/// Writes a publication's body (everything but its position).
pub(crate) fn encode_body(body: &Body<'_>) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(64 + body.app.len() + body.channel.as_str().len() + body.data.len());
    out.put_u8(VERSION);
    put_str(&mut out, body.app);
    put_str(&mut out, body.channel.as_str());
    put_str(&mut out, body.kind.as_str());
    match body.info {
        None => out.put_u8(0),
        Some(info) => {
            out.put_u8(1);
            out.put_u32(info.client.node);
            out.put_u64(info.client.sequence);
            put_str(&mut out, &info.user);
            put_opt(&mut out, info.info.as_deref());
        }
    }
    put_opt(&mut out, body.author.map(str::as_bytes));
    put_opt(&mut out, body.audience.map(str::as_bytes));
    out.extend_from_slice(body.data);
    out
}

/// Writes a whole message (`<offset> <epoch> <body>`) for a publication
/// whose position is already known: a commit of the store, relayed to the
/// other nodes.
pub(crate) fn encode_message(app: &str, publication: &Publication) -> Vec<u8> {
    let body = encode_body(&Body {
        app,
        channel: &publication.channel,
        kind: &publication.kind,
        info: publication.info.as_ref(),
        author: publication.author.as_deref(),
        audience: publication.audience.as_deref(),
        data: &publication.data,
    });
    let mut message = format!(
        "{} {} ",
        publication.position.offset, publication.position.epoch
    )
    .into_bytes();
    message.extend_from_slice(&body);
    message
}

/// Reads a whole message (`<offset> <epoch> <body>`) back: the app and the
/// publication.
pub(crate) fn decode(message: Bytes) -> Result<(Arc<str>, Publication), CodecError> {
    let (offset, rest) = split_word(message)?;
    let (epoch, mut body) = split_word(rest)?;
    let offset: u64 = std::str::from_utf8(&offset)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(CodecError("offset"))?;
    let epoch = text(epoch)?;
    if body.is_empty() || body.get_u8() != VERSION {
        return Err(CodecError("version"));
    }
    let app = text(take(&mut body)?)?;
    let channel = ChannelName::new(&text(take(&mut body)?)?).map_err(|_| CodecError("channel"))?;
    let kind = PublicationKind::from_name(&text(take(&mut body)?)?).ok_or(CodecError("kind"))?;
    let info = match byte(&mut body)? {
        0 => None,
        1 => {
            if body.remaining() < 12 {
                return Err(CodecError("client id"));
            }
            let client = ClientId {
                node: body.get_u32(),
                sequence: body.get_u64(),
            };
            let user = text(take(&mut body)?)?;
            let info = take_opt(&mut body)?.map(json_text).transpose()?;
            Some(ClientInfo { client, user, info })
        }
        _ => return Err(CodecError("client info tag")),
    };
    let author = take_opt(&mut body)?.map(text).transpose()?;
    let audience = take_opt(&mut body)?.map(text).transpose()?;
    let publication = Publication {
        channel,
        kind,
        data: json_text(body)?,
        position: StreamPosition { offset, epoch },
        info,
        author,
        audience,
    };
    Ok((app, publication))
}

pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_bytes(out, value.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, value: &[u8]) {
    out.put_u32(value.len() as u32);
    out.extend_from_slice(value);
}

pub(crate) fn put_opt(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.put_u8(0),
        Some(value) => {
            out.put_u8(1);
            put_bytes(out, value);
        }
    }
}

/// The bytes before the first space, and those after it.
fn split_word(mut message: Bytes) -> Result<(Bytes, Bytes), CodecError> {
    let space = message
        .iter()
        .position(|&b| b == b' ')
        .ok_or(CodecError("position"))?;
    let word = message.split_to(space);
    message.advance(1);
    Ok((word, message))
}

pub(crate) fn byte(body: &mut Bytes) -> Result<u8, CodecError> {
    if body.is_empty() {
        return Err(CodecError("truncated"));
    }
    Ok(body.get_u8())
}

pub(crate) fn take(body: &mut Bytes) -> Result<Bytes, CodecError> {
    if body.remaining() < 4 {
        return Err(CodecError("truncated"));
    }
    let len = body.get_u32() as usize;
    if body.remaining() < len {
        return Err(CodecError("truncated"));
    }
    Ok(body.split_to(len))
}

pub(crate) fn take_opt(body: &mut Bytes) -> Result<Option<Bytes>, CodecError> {
    match byte(body)? {
        0 => Ok(None),
        1 => take(body).map(Some),
        _ => Err(CodecError("option tag")),
    }
}

pub(crate) fn text(bytes: Bytes) -> Result<Arc<str>, CodecError> {
    std::str::from_utf8(&bytes)
        .map(Arc::from)
        .map_err(|_| CodecError("text"))
}

/// Bytes that are pushed into JSON frames as they are (the data, the
/// publisher's info): anything else in Redis than what a node wrote must
/// not reach the encoders, which copy them into frames unchecked. UTF-8 is
/// checked here, once per message; JSON was checked when published.
pub(crate) fn json_text(bytes: Bytes) -> Result<Bytes, CodecError> {
    std::str::from_utf8(&bytes).map_err(|_| CodecError("data is not UTF-8"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(offset: u64, epoch: &str, body: &[u8]) -> Bytes {
        let mut out = format!("{offset} {epoch} ").into_bytes();
        out.extend_from_slice(body);
        Bytes::from(out)
    }

    #[test]
    fn a_publication_reads_back_as_written() {
        let channel = ChannelName::new("news:a_b").unwrap();
        let info = ClientInfo {
            client: ClientId {
                node: 7,
                sequence: 42,
            },
            user: Arc::from("ann"),
            info: Some(Bytes::from_static(br#"{"x":1}"#)),
        };
        let body = encode_body(&Body {
            app: "main",
            channel: &channel,
            kind: &PublicationKind::Publication,
            info: Some(&info),
            author: Some("ann"),
            audience: None,
            data: b"{\"text\":\"with spaces\"}",
        });
        let (app, publication) = decode(message(12, "9c1e04b2", &body)).unwrap();
        assert_eq!(&*app, "main");
        assert_eq!(publication.channel, channel);
        assert_eq!(publication.position.offset, 12);
        assert_eq!(&*publication.position.epoch, "9c1e04b2");
        assert_eq!(publication.info, Some(info));
        assert_eq!(publication.author.as_deref(), Some("ann"));
        assert_eq!(publication.audience, None);
        assert_eq!(&publication.data[..], b"{\"text\":\"with spaces\"}");
    }

    #[test]
    fn a_relayed_commit_reads_back_whole() {
        let publication = Publication {
            channel: ChannelName::new("talk:x").unwrap(),
            kind: PublicationKind::from_name("message_created").expect("a valid kind"),
            data: Bytes::from_static(b"{}"),
            position: StreamPosition {
                offset: 3,
                epoch: Arc::from("abc"),
            },
            info: None,
            author: Some(Arc::from("ann")),
            audience: Some(Arc::from("ann")),
        };
        let message = encode_message("main", &publication);
        let (app, decoded) = decode(Bytes::from(message)).unwrap();
        assert_eq!((&*app, decoded), ("main", publication));
    }

    #[test]
    fn a_damaged_message_is_an_error() {
        let channel = ChannelName::new("c").unwrap();
        let body = encode_body(&Body {
            app: "main",
            channel: &channel,
            kind: &PublicationKind::Publication,
            info: None,
            author: None,
            audience: None,
            data: b"1",
        });
        assert!(decode(message(1, "e", &body[..5])).is_err());
        assert!(decode(Bytes::from_static(b"x e \x01")).is_err());
        assert!(decode(Bytes::from_static(b"nospace")).is_err());
        assert!(decode(message(1, "e", b"\x09")).is_err());
    }

    #[test]
    fn data_or_info_that_is_not_utf8_is_an_error() {
        let channel = ChannelName::new("c").unwrap();
        let mut body = Body {
            app: "main",
            channel: &channel,
            kind: &PublicationKind::Publication,
            info: None,
            author: None,
            audience: None,
            data: b"\"\xff\xfe\"",
        };
        let error = decode(message(1, "e", &encode_body(&body))).unwrap_err();
        assert_eq!(error, CodecError("data is not UTF-8"));
        let info = ClientInfo {
            client: ClientId {
                node: 1,
                sequence: 1,
            },
            user: Arc::from("ann"),
            info: Some(Bytes::from_static(b"\xc3")),
        };
        body.data = b"{}";
        body.info = Some(&info);
        assert!(decode(message(1, "e", &encode_body(&body))).is_err());
    }
}
