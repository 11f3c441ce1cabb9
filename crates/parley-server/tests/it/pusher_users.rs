//! Pusher user authentication: `pusher:signin`, the `#server-to-user-{id}`
//! channel fed by the HTTP API, watchlists, `terminate_connections`, and
//! `enable_user_authentication` (4009 for connections that never sign in).

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::pusher::{KEY, Pusher, post_signed};
use parley_server::pusher::sign::hmac_hex;
use serde_json::json;

#[tokio::test]
async fn a_signed_in_user_gets_what_the_sdk_sends_to_them() {
    let server = TestServer::start().await;
    let mut ann = Pusher::open(&server).await;
    ann.sign_in(json!({"id": "ann"})).await;
    ann.subscribed("#server-to-user-ann").await;
    // What the Node SDK's sendToUser sends.
    let body = json!({"name": "notice", "channels": ["#server-to-user-ann"], "data": "{\"n\":1}"});
    let (status, reply) = post_signed(&server, "/apps/main/events", body).await;
    assert_eq!(status, 200, "{reply}");
    let (event, channel, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), channel.as_deref(), data),
        ("notice", Some("#server-to-user-ann"), json!({"n": 1}))
    );
}

#[tokio::test]
async fn only_the_user_may_subscribe_to_their_channel() {
    let server = TestServer::start().await;
    let mut bob = Pusher::open(&server).await;
    bob.subscribe("#server-to-user-ann").await;
    assert_eq!(bob.event().await.0, "pusher:subscription_error");
    bob.sign_in(json!({"id": "bob"})).await;
    bob.subscribe("#server-to-user-ann").await;
    let (event, _, data) = bob.event().await;
    assert_eq!(event, "pusher:subscription_error");
    assert_eq!(data["status"], 401);
}

#[tokio::test]
async fn bad_sign_ins_get_4009_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let mut ann = Pusher::open(&server).await;
    // Signed for another socket.
    let user_data = json!({"id": "ann"}).to_string();
    let signature = hmac_hex(common::SECRET, &format!("1.2::user::{user_data}"));
    ann.send(json!({"event": "pusher:signin",
                    "data": {"auth": format!("{KEY}:{signature}"), "user_data": user_data}}))
        .await;
    let (event, _, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), &data["code"]),
        ("pusher:error", &json!(4009))
    );
    // No id.
    ann.send_signin(&json!({"name": "ann"})).await;
    let (event, _, data) = ann.event().await;
    assert_eq!(
        (event.as_str(), &data["code"]),
        ("pusher:error", &json!(4009))
    );
    // Still usable.
    ann.sign_in(json!({"id": "ann"})).await;
}

#[tokio::test]
async fn watchers_hear_online_and_offline() {
    let server = TestServer::start().await;
    let mut watcher = Pusher::open(&server).await;
    watcher
        .sign_in(json!({"id": "w", "watchlist": ["ann", "bob"]}))
        .await;
    let (event, _, data) = watcher.event().await;
    assert_eq!(event, "pusher_internal:watchlist_events");
    assert_eq!(
        data,
        json!({"events": [{"name": "offline", "user_ids": ["ann", "bob"]}]})
    );

    let mut ann = Pusher::open(&server).await;
    ann.sign_in(json!({"id": "ann"})).await;
    let (_, _, data) = watcher.event().await;
    assert_eq!(
        data,
        json!({"events": [{"name": "online", "user_ids": ["ann"]}]})
    );
    // A second connection of ann is no news.
    let mut ann_again = Pusher::open(&server).await;
    ann_again.sign_in(json!({"id": "ann"})).await;
    assert!(
        watcher
            .client
            .no_push_within(Duration::from_millis(300))
            .await
    );
    drop(ann_again);
    assert!(
        watcher
            .client
            .no_push_within(Duration::from_millis(300))
            .await
    );
    drop(ann);
    let (_, _, data) = watcher.event().await;
    assert_eq!(
        data,
        json!({"events": [{"name": "offline", "user_ids": ["ann"]}]})
    );

    // A later watcher hears who is online at once.
    let mut bob = Pusher::open(&server).await;
    bob.sign_in(json!({"id": "bob"})).await;
    let mut late = Pusher::open(&server).await;
    late.sign_in(json!({"id": "late", "watchlist": ["bob", "ann"]}))
        .await;
    let (_, _, data) = late.event().await;
    assert_eq!(
        data,
        json!({"events": [{"name": "online", "user_ids": ["bob"]},
                          {"name": "offline", "user_ids": ["ann"]}]})
    );
}

#[tokio::test]
async fn terminate_connections_closes_every_connection_of_the_user_with_4009() {
    let server = TestServer::start().await;
    let mut first = Pusher::open(&server).await;
    first.sign_in(json!({"id": "ann"})).await;
    let mut second = Pusher::open(&server).await;
    second.sign_in(json!({"id": "ann"})).await;
    let mut bob = Pusher::open(&server).await;
    bob.sign_in(json!({"id": "bob"})).await;
    // A native connection of the same user id closes too.
    let mut native = server.user("ann").await;

    let (status, reply) = post_signed(
        &server,
        "/apps/main/users/ann/terminate_connections",
        json!({}),
    )
    .await;
    assert_eq!((status, reply), (200, json!({})));
    for pusher in [&mut first, &mut second] {
        let (code, _, texts) = pusher.client.closed().await;
        assert_eq!(code, 4009);
        assert_eq!(texts.last().unwrap()["data"]["code"], 4009);
    }
    let (code, _, _) = native.closed().await;
    assert!(code >= 4000, "native close code {code}");
    assert!(bob.client.no_push_within(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn required_sign_in_closes_unsigned_connections_with_4009() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.enable_user_authentication = true;
        config.apps[0].pusher.user_authentication_timeout = Duration::from_millis(400);
    })
    .await;
    let mut signed = Pusher::open(&server).await;
    signed.sign_in(json!({"id": "ann"})).await;
    let mut unsigned = Pusher::open(&server).await;
    let (code, reason, texts) = unsigned.client.closed().await;
    assert_eq!(code, 4009, "{reason}");
    assert_eq!(texts.last().unwrap()["event"], "pusher:error");
    assert!(
        signed
            .client
            .no_push_within(Duration::from_millis(600))
            .await
    );
}

#[tokio::test]
async fn terminate_connections_without_an_app_id_in_the_path_uses_the_signing_key() {
    // The Python SDK's `terminate_user_connections` posts to
    // `/users/{id}/terminate_connections`; the app is the one whose
    // `auth_key` signed the request.
    let server = TestServer::start().await;
    let mut ann = Pusher::open(&server).await;
    ann.sign_in(json!({"id": "ann"})).await;
    let mut bob = Pusher::open(&server).await;
    bob.sign_in(json!({"id": "bob"})).await;

    let (status, reply) = post_signed(&server, "/users/ann/terminate_connections", json!({})).await;
    assert_eq!((status, reply), (200, json!({})));
    let (code, _, _) = ann.client.closed().await;
    assert_eq!(code, 4009);
    assert!(bob.client.no_push_within(Duration::from_millis(300)).await);
}
