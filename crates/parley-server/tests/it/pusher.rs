//! Pusher Channels protocol 7 at `/app/{key}`: connection, subscriptions of
//! each channel type with signed auth, presence per user, client events,
//! error and close codes, and interplay with native clients.

use crate::common;

use std::time::Duration;

use common::pusher::{KEY, Pusher};
use common::{Client, TestServer};
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

async fn server_with_client_events() -> TestServer {
    TestServer::start_with(|config| {
        config.apps[0].pusher.enable_client_messages = true;
        config.apps[0].pusher.client_events_per_second = 5;
    })
    .await
}

#[tokio::test]
async fn connection_established_carries_a_pusher_socket_id() {
    let server = TestServer::start().await;
    let pusher = Pusher::open(&server).await;
    let (node, sequence) = pusher.socket_id.split_once('.').unwrap();
    assert!(node.parse::<u64>().is_ok() && sequence.parse::<u64>().is_ok());
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    let mut pusher = Pusher::open(&server).await;
    pusher
        .send(json!({"event": "pusher:ping", "data": {}}))
        .await;
    assert_eq!(pusher.next().await["event"], "pusher:pong");
}

#[tokio::test]
async fn unknown_key_and_bad_protocol_versions_close_with_pushers_codes() {
    let server = TestServer::start().await;
    let cases = [
        ("/app/nope?protocol=7".to_owned(), 4001),
        (format!("/app/{KEY}"), 4008),
        (format!("/app/{KEY}?protocol=99"), 4007),
    ];
    for (path, code) in cases {
        let mut client = Client::open(&format!("ws://{}{path}", server.addr)).await;
        let (closed, _, texts) = client.closed().await;
        assert_eq!(closed, code, "{path}");
        assert_eq!(texts[0]["event"], "pusher:error");
        assert_eq!(texts[0]["data"]["code"], code);
    }
}

#[tokio::test]
async fn public_channel_gets_native_publications_as_pusher_events() {
    let server = TestServer::start().await;
    let mut pusher = Pusher::open(&server).await;
    assert_eq!(pusher.subscribe_public("news").await, json!({}));

    // A native publication shaped as a Pusher event arrives as that event.
    let mut native = server.user("ann").await;
    native
        .ok(
            "publish",
            json!({"channel": "news", "data": {"event": "headline", "data": "{\"t\":1}"}}),
        )
        .await;
    let frame = pusher.next().await;
    assert_eq!(
        frame,
        json!({"event": "headline", "channel": "news", "data": "{\"t\":1}"})
    );

    // Any other publication arrives as the `publication` event.
    native
        .ok(
            "publish",
            json!({"channel": "news", "data": {"text": "hi"}}),
        )
        .await;
    let frame = pusher.next().await;
    assert_eq!(
        frame,
        json!({"event": "publication", "channel": "news", "data": {"text": "hi"}})
    );
}

#[tokio::test]
async fn private_channel_needs_a_valid_signature() {
    let server = TestServer::start().await;
    let mut pusher = Pusher::open(&server).await;
    pusher
        .send(json!({"event": "pusher:subscribe",
                     "data": {"channel": "private-orders", "auth": format!("{KEY}:{}", "00".repeat(32))}}))
        .await;
    let (event, channel, data) = pusher.event().await;
    assert_eq!(event, "pusher:subscription_error");
    assert_eq!(channel.as_deref(), Some("private-orders"));
    assert_eq!(data["status"], 401);

    // A signature for another socket does not work either.
    let other = Pusher::open(&server).await;
    let auth = other.auth("private-orders", None);
    pusher
        .send(json!({"event": "pusher:subscribe", "data": {"channel": "private-orders", "auth": auth}}))
        .await;
    assert_eq!(pusher.event().await.0, "pusher:subscription_error");

    // The socket stays open, and a right signature subscribes.
    assert_eq!(pusher.subscribed("private-orders").await, json!({}));
}

#[tokio::test]
async fn presence_members_are_per_user_with_two_connections_of_one_user() {
    let server = TestServer::start().await;
    let channel = "presence-room";
    let mut ann = Pusher::open(&server).await;
    let data = ann
        .subscribe_presence_with_info(channel, "ann", json!({"name": "Ann"}))
        .await;
    assert_eq!(
        data,
        json!({"presence": {"ids": ["ann"], "hash": {"ann": {"name": "Ann"}}, "count": 1}})
    );

    let mut bob1 = Pusher::open(&server).await;
    let data = bob1
        .subscribe_presence_with_info(channel, "bob", json!({}))
        .await;
    assert_eq!(data["presence"]["count"], 2);
    let (event, _, data) = ann.event().await;
    assert_eq!(event, "pusher_internal:member_added");
    assert_eq!(data, json!({"user_id": "bob", "user_info": {}}));

    // Bob's second tab: no member_added, and its close no member_removed.
    let mut bob2 = Pusher::open(&server).await;
    assert_eq!(
        bob2.subscribe_presence_with_info(channel, "bob", json!({}))
            .await["presence"]["count"],
        2
    );
    assert!(ann.client.no_push_within(Duration::from_millis(300)).await);
    bob2.client.socket.close(None).await.unwrap();
    assert!(ann.client.no_push_within(Duration::from_millis(300)).await);

    // Bob's last connection leaves.
    bob1.send(json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}))
        .await;
    let (event, _, data) = ann.event().await;
    assert_eq!(event, "pusher_internal:member_removed");
    assert_eq!(data, json!({"user_id": "bob"}));
}

#[tokio::test]
async fn presence_channel_data_is_signed_and_limited() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.max_presence_members = 1;
    })
    .await;
    let mut ann = Pusher::open(&server).await;
    // A signature without the channel data does not cover it.
    let auth = ann.auth("presence-x", None);
    ann.send(
        json!({"event": "pusher:subscribe", "data": {"channel": "presence-x", "auth": auth,
                     "channel_data": "{\"user_id\":\"ann\"}"}}),
    )
    .await;
    assert_eq!(ann.event().await.0, "pusher:subscription_error");
    ann.subscribe_presence_with_info("presence-x", "ann", json!({}))
        .await;

    let mut bob = Pusher::open(&server).await;
    let channel_data = json!({"user_id": "bob"}).to_string();
    let auth = bob.auth("presence-x", Some(&channel_data));
    bob.send(json!({"event": "pusher:subscribe",
                    "data": {"channel": "presence-x", "auth": auth, "channel_data": channel_data}}))
        .await;
    let (event, _, data) = bob.event().await;
    assert_eq!(event, "pusher:subscription_error");
    assert_eq!(data["status"], 403);
}

#[tokio::test]
async fn client_events_reach_others_but_not_the_sender() {
    let server = server_with_client_events().await;
    let mut ann = Pusher::open(&server).await;
    let mut bob = Pusher::open(&server).await;
    ann.subscribe_presence_with_info("presence-chat", "ann", json!({}))
        .await;
    bob.subscribe_presence_with_info("presence-chat", "bob", json!({}))
        .await;
    assert_eq!(ann.event().await.0, "pusher_internal:member_added");

    ann.send(json!({"event": "client-typing", "channel": "presence-chat", "data": {"on": true}}))
        .await;
    let frame = bob.next().await;
    assert_eq!(
        frame,
        json!({"event": "client-typing", "channel": "presence-chat", "data": {"on": true}, "user_id": "ann"})
    );
    assert!(ann.client.no_push_within(Duration::from_millis(300)).await);

    // A native subscriber of the same channel sees the event as published.
    let mut native = server.user("cat").await;
    native
        .ok("subscribe", json!({"channel": "presence-chat"}))
        .await;
    bob.send(json!({"event": "client-hi", "channel": "presence-chat", "data": "x"}))
        .await;
    let push = native.push().await;
    assert_eq!(
        push["data"],
        json!({"event": "client-hi", "data": "x", "user_id": "bob"})
    );
}

#[tokio::test]
async fn client_events_are_refused_where_pusher_refuses_them() {
    let server = TestServer::start().await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("private-a").await;
    ann.send(json!({"event": "client-x", "channel": "private-a", "data": {}}))
        .await;
    let frame = ann.next().await;
    assert_eq!(frame["event"], "pusher:error");
    assert_eq!(frame["data"]["code"], 4301);

    let server = server_with_client_events().await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribe_public("open").await;
    ann.send(json!({"event": "client-x", "channel": "open", "data": {}}))
        .await;
    assert_eq!(ann.next().await["event"], "pusher:error");
    ann.send(json!({"event": "client-x", "channel": "private-unsubscribed", "data": {}}))
        .await;
    assert_eq!(ann.next().await["event"], "pusher:error");
}

#[tokio::test]
async fn client_events_past_the_rate_limit_close_with_4301() {
    let server = server_with_client_events().await;
    let mut ann = Pusher::open(&server).await;
    ann.subscribed("private-a").await;
    for _ in 0..20 {
        ann.send(json!({"event": "client-x", "channel": "private-a", "data": {}}))
            .await;
    }
    let (code, _, texts) = ann.client.closed().await;
    assert_eq!(code, 4301);
    assert_eq!(texts.last().unwrap()["data"]["code"], 4301);
}

#[tokio::test]
async fn shutdown_closes_with_4200() {
    let server = TestServer::start().await;
    let mut pusher = Pusher::open(&server).await;
    pusher.subscribe_public("news").await;
    let stopping = tokio::spawn(server.stop());
    let (code, _, _) = pusher.client.closed().await;
    assert_eq!(code, 4200);
    stopping.await.unwrap();
}

#[tokio::test]
async fn silence_after_a_ping_closes_with_4201() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = Duration::from_millis(200);
        config.pong_timeout = Duration::from_millis(200);
    })
    .await;
    let url = format!("ws://{}/app/{KEY}?protocol=7", server.addr);
    // A raw socket that is never read does not answer pings.
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let code = loop {
        match tokio::time::timeout(common::WAIT, socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 4201);
}
