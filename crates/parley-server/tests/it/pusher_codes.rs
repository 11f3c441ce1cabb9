//! The Pusher error and close codes not covered with their features:
//! protocol errors (`pusher:error` with code null, then 4301 when they
//! repeat), oversized frames, and presence limits.

use crate::common;

use common::TestServer;
use common::pusher::Pusher;
use serde_json::{Value, json};

#[tokio::test]
async fn repeated_protocol_errors_close_with_4301() {
    let server = TestServer::start().await;
    let mut pusher = Pusher::open(&server).await;
    pusher.client.send_text("not json").await;
    let (event, _, data) = pusher.event().await;
    assert_eq!(
        (event.as_str(), &data["code"]),
        ("pusher:error", &Value::Null)
    );
    pusher.send(json!({"event": "pusher:unknown"})).await;
    assert_eq!(pusher.event().await.0, "pusher:error");
    for _ in 0..8 {
        pusher
            .send(json!({"event": "pusher:subscribe", "data": 1}))
            .await;
    }
    let (code, _, texts) = pusher.client.closed().await;
    assert_eq!(code, 4301);
    assert_eq!(texts.last().unwrap()["data"]["code"], 4301);
}

#[tokio::test]
async fn an_oversized_frame_gets_an_error() {
    let server = TestServer::start().await;
    let max = server.state.config.max_frame_bytes;
    let mut pusher = Pusher::open(&server).await;
    pusher.subscribed("news").await;
    let big = json!({"event": "client-x", "channel": "news", "data": "x".repeat(max)});
    pusher.send(big).await;
    let (event, _, data) = pusher.event().await;
    assert_eq!(event, "pusher:error");
    assert_eq!(data["message"], "message too large");
}

#[tokio::test]
async fn presence_limits_refuse_with_pushers_statuses() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.max_presence_members = 1;
        config.apps[0].pusher.max_user_info_bytes = 16;
    })
    .await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribe_presence("presence-small", "ann").await;

    let mut bob = Pusher::open(&server).await;
    let channel_data = json!({"user_id": "bob", "user_info": {}}).to_string();
    let auth = bob.auth("presence-small", Some(&channel_data));
    bob.send(json!({"event": "pusher:subscribe", "data":
        {"channel": "presence-small", "auth": auth, "channel_data": channel_data}}))
        .await;
    let (event, _, data) = bob.event().await;
    assert_eq!(event, "pusher:subscription_error");
    assert_eq!(data["status"], 403, "{data}");

    let channel_data = json!({"user_id": "bob", "user_info": {"name": "x".repeat(32)}}).to_string();
    let auth = bob.auth("presence-other", Some(&channel_data));
    bob.send(json!({"event": "pusher:subscribe", "data":
        {"channel": "presence-other", "auth": auth, "channel_data": channel_data}}))
        .await;
    let (event, _, data) = bob.event().await;
    assert_eq!(event, "pusher:subscription_error");
    assert_eq!(data["status"], 413, "{data}");
}
