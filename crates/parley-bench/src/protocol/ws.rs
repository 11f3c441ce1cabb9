//! A lean client WebSocket (RFC 6455) over plain TCP, for thousands of
//! connections in one process.
//!
//! The upgrade is done by hand, so no byte the server sends after its
//! `101` is ever held by another layer. Received bytes go straight from the
//! socket into one buffer per connection, and frames are parsed in place
//! from it: a read takes everything the socket has (several frames, or part
//! of one), and a text payload is handed to the caller as a slice of that
//! buffer, without a copy, an allocation or a UTF-8 check. Server frames
//! are unmasked; frames this client sends are masked, as RFC 6455 requires
//! of a client.
//!
//! Pings are answered with pongs (queued, sent by the next [`Ws::flush`]);
//! a close frame is answered with a close frame and reported with its
//! code; fragmented messages are reassembled.
//!
//! The frames themselves are parsed and encoded by [`super::ws_codec`].

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

pub use super::ws_codec::{Codec, Frame, MAX_MESSAGE, Message, NO_STATUS, READ_BUFFER};

/// The largest HTTP response head accepted during the upgrade.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// A client WebSocket over TCP.
#[derive(Debug)]
pub struct Ws {
    stream: TcpStream,
    codec: Codec,
}

impl Ws {
    /// Upgrades `stream` to a WebSocket at `path` (with query) on `host`,
    /// checking the server's `Sec-WebSocket-Accept`.
    pub async fn connect(mut stream: TcpStream, host: &str, path: &str) -> Result<Self, String> {
        let key = generate_key();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|error| format!("upgrade: {error}"))?;
        let mut codec = Codec::new();
        let head_end = loop {
            if let Some(at) = memmem::find(&codec.buf, b"\r\n\r\n") {
                break at + 4;
            }
            if codec.buf.len() > MAX_RESPONSE_HEAD {
                return Err("upgrade: response head too large".into());
            }
            codec.prepare_read();
            let read = stream
                .read_buf(&mut codec.buf)
                .await
                .map_err(|error| format!("upgrade: {error}"))?;
            if read == 0 {
                return Err("upgrade: connection closed during the handshake".into());
            }
        };
        check_response(&codec.buf[..head_end], &derive_accept_key(key.as_bytes()))?;
        // Whatever follows the head is the first frames: it stays.
        codec.start = head_end;
        Ok(Self { stream, codec })
    }

    /// Reads once from the socket, as much as it has (waiting until it has
    /// something). Cancel-safe. Errors when the connection is closed or
    /// broken.
    pub async fn fill(&mut self) -> Result<(), String> {
        self.codec.prepare_read();
        match self.stream.read_buf(&mut self.codec.buf).await {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(()),
            Err(error) => Err(format!("read: {error}")),
        }
    }

    /// The next message already received, if any: see [`Codec::frame`].
    pub fn frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        self.codec.frame()
    }

    /// Queues a text frame (sent by [`Ws::flush`]).
    pub fn queue_text(&mut self, text: &str) {
        self.codec.send_text(text.as_bytes());
    }

    /// Whether frames wait to be written.
    pub fn has_output(&self) -> bool {
        self.codec.has_output()
    }

    /// Writes every queued frame. Cancel-safe: what was written is
    /// remembered.
    pub async fn flush(&mut self) -> Result<(), String> {
        while self.codec.has_output() {
            let written = self
                .stream
                .write(self.codec.output())
                .await
                .map_err(|error| format!("send: {error}"))?;
            if written == 0 {
                return Err("send: connection closed".into());
            }
            self.codec.written(written);
        }
        Ok(())
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.queue_text(text);
        self.flush().await
    }

    /// The next message, reading as needed and answering pings on the
    /// way. Cancel-safe: queued pongs go out first, and nothing is awaited
    /// between parsing a text or binary message and returning it, so none
    /// is ever parsed and then dropped (a pong queued while parsing goes
    /// out at the next call, or the next [`Ws::flush`]); only the answer to
    /// a close is written before the close is returned.
    pub async fn next(&mut self) -> Result<Message, String> {
        loop {
            if self.has_output() {
                self.flush().await?;
            }
            match self.codec.frame()? {
                Some(Frame::Text(text)) => {
                    return String::from_utf8(text.to_vec())
                        .map(Message::Text)
                        .map_err(|_| "a text frame that is not UTF-8".to_owned());
                }
                Some(Frame::Binary(data)) => return Ok(Message::Binary(data.to_vec())),
                Some(Frame::Close(code)) => {
                    // The answer to the close, at once.
                    let _ = self.flush().await;
                    return Ok(Message::Close(code));
                }
                None => {}
            }
            if self.has_output() {
                continue;
            }
            self.fill().await?;
        }
    }

    /// Sends a normal close (1000) and flushes it; the socket closes when
    /// the connection is dropped.
    pub async fn close(&mut self) {
        if !self.codec.closed {
            self.codec.closed = true;
            self.codec.send_close(Some(1000));
        }
        if self.flush().await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }
}

/// Checks the upgrade response head: status 101 and the right accept key.
fn check_response(head: &[u8], accept: &str) -> Result<(), String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split(' ');
    let (version, code) = (parts.next(), parts.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) || code != Some("101") {
        return Err(format!("upgrade: HTTP error: {}", status.trim()));
    }
    let got = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim());
    match got {
        Some(got) if got == accept => Ok(()),
        Some(got) => Err(format!("upgrade: wrong Sec-WebSocket-Accept {got:?}")),
        None => Err("upgrade: no Sec-WebSocket-Accept".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ws_codec::tests::text;

    #[test]
    fn upgrade_responses_are_checked() {
        let accept = derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept: {accept}\r\n\r\n"
        );
        assert!(check_response(ok.as_bytes(), &accept).is_ok());
        assert!(check_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n", &accept).is_err());
        let wrong = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        assert!(check_response(wrong.as_bytes(), &accept).is_err());
    }

    #[tokio::test]
    async fn talks_to_a_tungstenite_server() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message as T;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
            // Sent before the client reads anything: arrives with the 101.
            ws.send(T::text("early")).await.unwrap();
            ws.send(T::Ping(b"p".to_vec().into())).await.unwrap();
            ws.send(T::text(text(70_000, 0))).await.unwrap();
            // The pong to the ping comes back, and the text to echo.
            let mut ponged = false;
            let echo = loop {
                match ws.next().await.unwrap().unwrap() {
                    T::Pong(payload) => ponged = payload.as_ref() == b"p",
                    T::Text(text) => break text,
                    _ => {}
                }
            };
            ws.send(T::Text(echo)).await.unwrap();
            while let Some(Ok(message)) = ws.next().await {
                if let T::Close(frame) = message {
                    assert_eq!(u16::from(frame.unwrap().code), 1000);
                    break;
                }
            }
            ponged
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut ws = Ws::connect(stream, &addr.to_string(), "/ws").await.unwrap();
        assert_eq!(ws.next().await.unwrap(), Message::Text("early".into()));
        assert_eq!(ws.next().await.unwrap(), Message::Text(text(70_000, 0)));
        ws.send_text("echo me").await.unwrap();
        assert_eq!(ws.next().await.unwrap(), Message::Text("echo me".into()));
        ws.close().await;
        assert!(server.await.unwrap(), "the ping was answered");
    }
}
