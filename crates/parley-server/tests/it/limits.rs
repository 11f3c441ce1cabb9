//! Bad input, limits, backpressure and liveness over the real wire.

use crate::common;

use std::time::Duration;

use common::{Client, TestServer};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn malformed_frames_get_errors_and_repeated_violations_close() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    client.send_text("{not json").await;
    let reply = client.next_json().await;
    assert_eq!(reply["error"]["code"], 400);
    assert!(reply.get("id").is_none());
    client.send_text(r#"{"method":"ping"}"#).await;
    assert_eq!(client.next_json().await["error"]["code"], 400);
    assert_eq!(client.error_code("dance", json!({})).await, 405);
    assert_eq!(
        client
            .error_code("subscribe", json!({"chanel": "typo"}))
            .await,
        400
    );
    assert_eq!(
        client.error_code("subscribe", json!("not an object")).await,
        400
    );
    client
        .socket
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    assert_eq!(client.next_json().await["error"]["code"], 400);
    // The connection still works between errors.
    assert!(client.ok("ping", json!({})).await.is_object());
    for _ in 0..10 {
        client.send_text("][").await;
    }
    let (code, reason, texts) = client.closed().await;
    assert_eq!(code, 4002, "{reason}");
    assert_eq!(texts.last().unwrap()["push"], "disconnect");
    assert_eq!(texts.last().unwrap()["reconnect"], false);
    server.stop().await;
}

#[tokio::test]
async fn commands_before_connect_are_refused() {
    let server = TestServer::start().await;
    let mut client = Client::open(&server.ws_url()).await;
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "news"}))
            .await,
        412
    );
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "news", "data": 1}))
            .await,
        412
    );
    client
        .ok("connect", json!({"token": server.token("42")}))
        .await;
    assert_eq!(
        client
            .error_code("connect", json!({"token": server.token("42")}))
            .await,
        409
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_connects_is_closed_after_the_connect_timeout() {
    let server =
        TestServer::start_with(|config| config.connect_timeout = Duration::from_millis(300)).await;
    let mut client = Client::open(&server.ws_url()).await;
    assert_eq!(client.closed().await.0, 4203);
    server.stop().await;
}

#[tokio::test]
async fn oversized_frames_get_413_and_huge_ones_close_the_connection() {
    let server = TestServer::start_with(|config| config.max_frame_bytes = 4096).await;
    let mut client = server.user("42").await;
    let big = "x".repeat(5000);
    assert_eq!(
        client
            .error_code("publish", json!({"channel": "news", "data": big}))
            .await,
        413
    );
    assert!(client.ok("ping", json!({})).await.is_object());
    // Past twice the limit the server stops reading and closes. The close
    // frame may be lost to a TCP reset, as the rest of the frame is unread.
    let huge = "x".repeat(10_000);
    client
        .send_text(&format!(
            r#"{{"id":1,"method":"ping","params":{{"pad":"{huge}"}}}}"#
        ))
        .await;
    loop {
        match tokio::time::timeout(common::WAIT, client.socket.next())
            .await
            .expect("the server ends it")
        {
            Some(Ok(Message::Text(text))) => {
                let push: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    (push["push"].as_str(), push["code"].as_u64()),
                    (Some("disconnect"), Some(4005))
                );
            }
            Some(Ok(Message::Close(Some(frame)))) => break assert_eq!(u16::from(frame.code), 4005),
            Some(Ok(other)) => panic!("unexpected frame: {other:?}"),
            None | Some(Err(_)) => break,
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn command_rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.commands_per_second = 5;
        config.command_burst = 5;
    })
    .await;
    let mut client = server.user("42").await; // connect used one
    let mut limited = None;
    for _ in 0..10 {
        let reply = client.call("ping", json!({})).await;
        if reply.get("error").is_some() {
            limited = Some(reply);
            break;
        }
    }
    let reply = limited.expect("the burst runs out");
    assert_eq!(reply["error"]["code"], 429);
    assert!(reply["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    server.stop().await;
}

#[tokio::test]
async fn per_user_connection_limit() {
    let server = TestServer::start_with(|config| config.apps[0].max_connections_per_user = 2).await;
    let _a = server.user("42").await;
    let _b = server.user("42").await;
    let mut third = Client::open(&server.ws_url()).await;
    assert_eq!(
        third
            .call("connect", json!({"token": server.token("42")}))
            .await["error"]["code"],
        429
    );
    assert_eq!(third.closed().await.0, 4101);
    // Another user is not affected.
    server.user("43").await;
    server.stop().await;
}

#[tokio::test]
async fn node_connection_limit_closes_with_back_off_code() {
    let server = TestServer::start_with(|config| config.max_connections = 1).await;
    let _first = server.user("1").await;
    let mut second = Client::open(&server.ws_url()).await;
    assert_eq!(second.closed().await.0, 4100);
    drop(_first);
    // The slot is released when the first connection ends.
    let mut waited = 0;
    loop {
        let mut client = Client::open(&server.ws_url()).await;
        let reply = tokio::time::timeout(
            Duration::from_secs(1),
            client.call("connect", json!({"token": server.token("1")})),
        )
        .await;
        if matches!(reply, Ok(ref value) if value.get("result").is_some()) {
            break;
        }
        waited += 1;
        assert!(waited < 20, "slot never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn slow_client_is_disconnected_while_others_keep_receiving() {
    let server = TestServer::start_with(|config| {
        config.max_queue_bytes = 256 * 1024;
        // The slow client reads only at the end; on a loaded machine that
        // can take longer than the default write timeout, after which the
        // server would drop it without a close frame.
        config.write_timeout = Duration::from_secs(120);
    })
    .await;
    let mut slow = server.user("slow").await;
    let mut fast = server.user("fast").await;
    slow.ok("subscribe", json!({"channel": "news"})).await;
    fast.ok("subscribe", json!({"channel": "news"})).await;

    // The slow client stops reading. 40 MB cannot all sit in the kernel's
    // socket buffers, so its queue must overflow.
    let payload = "y".repeat(16 * 1024);
    let count = 2504u64;
    let publisher = {
        let url = server.url("/api/v1/batch");
        let payload = payload.clone();
        tokio::spawn(async move {
            // Batches of 8 × 16 KiB fit the fast client's 256 KiB queue.
            for chunk in 0..count / 8 {
                let publications: Vec<_> = (0..8)
                    .map(|i| json!({"channel": "news", "data": {"n": chunk * 8 + i, "pad": payload}}))
                    .collect();
                let (status, body) = common::api_call(
                    &url,
                    Method::POST,
                    Some(common::API_KEY),
                    Some(json!({"publications": publications})),
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
        })
    };
    for n in 0..count {
        let push = fast.push().await;
        assert_eq!(push["data"]["n"], n, "the fast client misses nothing");
    }
    publisher.await.unwrap();

    let (code, reason, _) = slow.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (4201, "slow client: outbound queue overflow")
    );
    let (_, metrics) = common::api_call(&server.url("/metrics"), Method::GET, None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("parley_slow_disconnects_total")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = Duration::from_millis(200);
        config.pong_timeout = Duration::from_millis(300);
    })
    .await;
    let mut silent = server.user("42").await;
    let mut lively = server.user("43").await;
    // The silent client does not read, so it answers no ping; the lively one
    // reads (and so answers pings) for two seconds.
    assert!(lively.no_push_within(Duration::from_secs(2)).await);
    let (code, reason, _) = silent.closed().await;
    assert_eq!((code, reason.as_str()), (4202, "no pong"));
    assert!(lively.ok("ping", json!({})).await.is_object());
    server.stop().await;
}

#[tokio::test]
async fn subscription_limit_per_connection() {
    let server =
        TestServer::start_with(|config| config.apps[0].max_subscriptions_per_client = 2).await;
    let mut client = server.user("42").await;
    client.ok("subscribe", json!({"channel": "a"})).await;
    client.ok("subscribe", json!({"channel": "b"})).await;
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "c"}))
            .await,
        403
    );
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "b"}))
            .await,
        409
    );
    client.ok("unsubscribe", json!({"channel": "a"})).await;
    client.ok("subscribe", json!({"channel": "c"})).await;
    server.stop().await;
}

/// A WebSocket opened over a raw TCP stream, the handshake written by hand,
/// so the test can send frames no WebSocket library would.
async fn raw_websocket(server: &TestServer, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// Reads server frames until the close frame and returns its code and
/// reason; `None` when the connection ends without one.
async fn close_frame(stream: &mut tokio::net::TcpStream) -> Option<(u16, String)> {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let mut header = [0u8; 2];
            stream.read_exact(&mut header).await.ok()?;
            let length = match header[1] & 0x7F {
                126 => u64::from(stream.read_u16().await.ok()?),
                127 => stream.read_u64().await.ok()?,
                length => u64::from(length),
            };
            let mut payload = vec![0u8; usize::try_from(length).unwrap()];
            stream.read_exact(&mut payload).await.ok()?;
            if header[0] & 0x0F == 0x8 {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return Some((code, String::from_utf8(payload[2..].to_vec()).unwrap()));
            }
        }
    };
    tokio::time::timeout(common::WAIT, read).await.unwrap()
}

/// A client frame, masked unless told otherwise.
fn client_frame(first_byte: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let length = u8::try_from(payload.len()).unwrap();
    assert!(length < 126);
    if !masked {
        let mut frame = vec![first_byte, length];
        frame.extend_from_slice(payload);
        return frame;
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![first_byte, 0x80 | length];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Issue 13: invalid UTF-8 in a text frame and framing errors dropped the
/// TCP connection without a close frame. Both protocols now fail the
/// connection as RFC 6455 says: 1007 for invalid UTF-8, 1002 for a protocol
/// violation, with a reason.
#[tokio::test]
async fn invalid_utf8_and_framing_errors_get_rfc_6455_close_codes() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let cases = [
        (
            client_frame(0x81, b"{\"method\":\xff\xfe}", true),
            1007,
            "UTF-8",
        ),
        (client_frame(0x83, b"hello", true), 1002, "protocol error"),
        (client_frame(0x81, b"{}", false), 1002, "protocol error"),
    ];
    for path in ["/ws", "/app/main-key?protocol=7"] {
        for (frame, code, reason) in &cases {
            let mut stream = raw_websocket(&server, path).await;
            stream.write_all(frame).await.unwrap();
            let close = close_frame(&mut stream).await;
            let (got, text) = close.unwrap_or_else(|| panic!("{path}: no close frame"));
            assert_eq!(got, *code, "{path}: {text}");
            assert!(text.contains(reason), "{path}: {text}");
        }
    }
    server.stop().await;
}
