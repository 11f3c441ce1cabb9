//! The native protocol's envelope: commands in, replies and pushes out.
//!
//! ```text
//! client → server  {"id": 7, "method": "subscribe", "params": {...}}
//! server → client  {"id": 7, "result": {...}}
//!                  {"id": 7, "error": {"code": 429, "message": "...", "retry_after_ms": 1200}}
//! server push      {"push": "publication", "channel": "...", "data": ..., "offset": 12, "epoch": "..."}
//! ```

use std::borrow::Cow;

use parley_core::{Disconnect, Frame};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::codes::{BAD_REQUEST, ErrorReply, close_code};

/// One command from a client.
#[derive(Debug)]
pub struct Command<'a> {
    /// The request id, echoed in the reply.
    pub id: u64,
    /// The method name.
    pub method: Cow<'a, str>,
    /// The parameters, still as raw JSON.
    pub params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

/// Parses one text frame. On failure returns the id, when it could be read,
/// and the error to reply with.
pub fn parse_command(text: &str) -> Result<Command<'_>, (Option<u64>, ErrorReply)> {
    if !text.trim_start().starts_with('{') {
        return Err((
            None,
            ErrorReply::new(BAD_REQUEST, "a command is a JSON object"),
        ));
    }
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|error| {
        (
            None,
            ErrorReply::new(BAD_REQUEST, format!("malformed command: {error}")),
        )
    })?;
    let Some(id) = envelope.id else {
        return Err((None, ErrorReply::new(BAD_REQUEST, "command without an id")));
    };
    let Some(method) = envelope.method else {
        return Err((
            Some(id),
            ErrorReply::new(BAD_REQUEST, "command without a method"),
        ));
    };
    Ok(Command {
        id,
        method,
        params: envelope.params,
    })
}

/// Decodes a command's parameters; absent parameters read as `{}`.
pub fn params<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Result<T, ErrorReply> {
    let text = raw.map_or("{}", RawValue::get);
    serde_json::from_str(text)
        .map_err(|error| ErrorReply::new(BAD_REQUEST, format!("invalid params: {error}")))
}

#[derive(Serialize)]
struct ResultReply<'a, T> {
    id: u64,
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<&'a RawValue>,
}

/// A successful reply.
pub fn result_frame(id: u64, result: &impl Serialize) -> Frame {
    let text =
        serde_json::to_string(&ResultReply { id, result }).expect("replies serialize to JSON");
    Frame::new(text)
}

/// A successful reply whose result is already JSON text.
pub fn raw_result_frame(id: u64, result: &str) -> Frame {
    Frame::new(format!(r#"{{"id":{id},"result":{result}}}"#))
}

/// An error reply; `id` is absent when the command's id could not be read.
pub fn error_frame(id: Option<u64>, error: &ErrorReply) -> Frame {
    let envelope = ErrorEnvelope {
        id,
        error: ErrorBody {
            code: error.code,
            message: &error.message,
            retry_after_ms: error.retry_after_ms,
            current: error
                .current
                .as_deref()
                .and_then(|current| serde_json::from_str(current).ok()),
        },
    };
    Frame::new(serde_json::to_string(&envelope).expect("errors serialize to JSON"))
}

/// The push sent just before the server closes a connection, for clients
/// that cannot see close codes.
pub fn disconnect_frame(reason: Disconnect) -> Frame {
    let text = serde_json::json!({
        "push": "disconnect",
        "code": close_code(reason),
        "reason": reason.reason(),
        "reconnect": reason.reconnect(),
    });
    Frame::new(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_errors_keep_the_id() {
        let command = parse_command(r#"{"id":7,"method":"ping","params":{}}"#).unwrap();
        assert_eq!((command.id, &*command.method), (7, "ping"));
        assert_eq!(parse_command("{nope").unwrap_err().0, None);
        assert_eq!(parse_command(r#"{"id":3}"#).unwrap_err().0, Some(3));
        assert_eq!(parse_command(r#"{"method":"ping"}"#).unwrap_err().0, None);
        assert_eq!(parse_command("[1]").unwrap_err().1.code, 400);
        assert_eq!(parse_command(r#"[7,"ping",null]"#).unwrap_err().1.code, 400);
    }
}
