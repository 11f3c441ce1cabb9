//! The Pusher HTTP API on `/apps/{app_id}/...`: requests signed as the
//! Pusher server SDKs sign them, triggers reaching Pusher connections, and
//! channel queries.

use crate::common;

use common::pusher::{KEY, Pusher, signed};
use common::{Client, SECRET, TestServer};
use md5::{Digest, Md5};
use parley_server::auth::unix_now;
use parley_server::pusher::sign::hmac_hex;
use serde_json::{Value, json};

/// A Pusher connection subscribed to the public `channel`, and its socket
/// id.
async fn pusher(server: &TestServer, channel: &str) -> (Client, String) {
    let mut pusher = Pusher::open(server).await;
    pusher.subscribe_public(channel).await;
    (pusher.client, pusher.socket_id)
}

#[tokio::test]
async fn trigger_reaches_subscribers_except_the_excluded_socket() {
    let server = TestServer::start().await;
    let (mut ann, _) = pusher(&server, "news").await;
    let (mut bob, bob_socket) = pusher(&server, "news").await;
    let path = "/apps/main/events";
    let body = json!({"name": "headline", "channels": ["news"], "data": "{\"t\":1}",
                      "socket_id": bob_socket, "info": "subscription_count"});
    let (status, reply) = signed(&server, reqwest::Method::POST, path, &[], Some(body), path).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"channels": {"news": {"subscription_count": 2}}})
    );
    assert_eq!(
        ann.push().await,
        json!({"event": "headline", "channel": "news", "data": "{\"t\":1}"})
    );
    assert!(
        bob.no_push_within(std::time::Duration::from_millis(300))
            .await
    );
}

#[tokio::test]
async fn bad_signatures_old_timestamps_and_wrong_bodies_get_401() {
    let server = TestServer::start().await;
    let path = "/apps/main/events";
    let body = json!({"name": "e", "channel": "news", "data": "x"});
    // Signed for another path.
    let (status, _) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(body.clone()),
        "/apps/other/events",
    )
    .await;
    assert_eq!(status, 401);
    // No signature at all.
    let response = reqwest::Client::new()
        .post(server.url(path))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A right signature works.
    let (status, _) = signed(&server, reqwest::Method::POST, path, &[], Some(body), path).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn triggers_are_limited_like_pushers() {
    let server = TestServer::start().await;
    let path = "/apps/main/events";
    let big = "x".repeat(10 * 1024 + 1);
    let (status, _) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({"name": "e", "channel": "news", "data": big})),
        path,
    )
    .await;
    assert_eq!(status, 413);
    let channels: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let (status, _) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({"name": "e", "channels": channels, "data": "x"})),
        path,
    )
    .await;
    assert_eq!(status, 400);
    let path = "/apps/main/batch_events";
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({"name": "e", "channel": "c", "data": "x"}))
        .collect();
    let (status, _) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({"batch": batch})),
        path,
    )
    .await;
    assert_eq!(status, 400);
    let batch: Vec<Value> = (0..2)
        .map(|i| json!({"name": "e", "channel": format!("c{i}"), "data": "x"}))
        .collect();
    let (status, reply) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({"batch": batch})),
        path,
    )
    .await;
    assert_eq!((status, reply), (200, json!({})));
}

#[tokio::test]
async fn channel_queries_count_users_not_connections() {
    let server = TestServer::start().await;
    let (_news, _) = pusher(&server, "news").await;
    let url = format!("ws://{}/app/{KEY}?protocol=7", server.addr);
    let mut tabs = Vec::new();
    for user in ["ann", "ann", "bob"] {
        let mut client = Client::open(&url).await;
        let established = client.next_json().await;
        let data: Value = serde_json::from_str(established["data"].as_str().unwrap()).unwrap();
        let socket_id = data["socket_id"].as_str().unwrap();
        let channel_data = json!({"user_id": user}).to_string();
        let auth = format!(
            "{KEY}:{}",
            hmac_hex(SECRET, &format!("{socket_id}:presence-room:{channel_data}"))
        );
        client
            .send_text(
                &json!({"event": "pusher:subscribe", "data": {"channel": "presence-room",
                "auth": auth, "channel_data": channel_data}})
                .to_string(),
            )
            .await;
        loop {
            if client.push().await["event"] == "pusher_internal:subscription_succeeded" {
                break;
            }
        }
        tabs.push(client);
    }

    let path = "/apps/main/channels/presence-room";
    let (status, reply) = signed(
        &server,
        reqwest::Method::GET,
        path,
        &[("info", "user_count,subscription_count")],
        None,
        path,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"occupied": true, "user_count": 2, "subscription_count": 3})
    );

    let path = "/apps/main/channels/presence-room/users";
    let (_, reply) = signed(&server, reqwest::Method::GET, path, &[], None, path).await;
    assert_eq!(reply, json!({"users": [{"id": "ann"}, {"id": "bob"}]}));

    let path = "/apps/main/channels";
    let (_, reply) = signed(
        &server,
        reqwest::Method::GET,
        path,
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
        None,
        path,
    )
    .await;
    assert_eq!(
        reply,
        json!({"channels": {"presence-room": {"user_count": 2}}})
    );
    let (_, reply) = signed(&server, reqwest::Method::GET, path, &[], None, path).await;
    assert_eq!(
        reply,
        json!({"channels": {"news": {}, "presence-room": {}}})
    );

    let path = "/apps/main/channels/empty";
    let (_, reply) = signed(&server, reqwest::Method::GET, path, &[], None, path).await;
    assert_eq!(reply, json!({"occupied": false}));
}

#[tokio::test]
async fn signatures_cover_the_path_prefix_of_a_proxy() {
    let server = TestServer::start_with(|config| {
        config.apps[0].pusher.api_path_prefix = "/pusher".to_owned();
    })
    .await;
    let path = "/apps/main/channels";
    let (status, _) = signed(&server, reqwest::Method::GET, path, &[], None, path).await;
    assert_eq!(status, 401);
    let (status, _) = signed(
        &server,
        reqwest::Method::GET,
        path,
        &[],
        None,
        "/pusher/apps/main/channels",
    )
    .await;
    assert_eq!(status, 200);
}

/// Sends `POST /apps/main/events` signed with `timestamp` and `body_md5` as
/// given (the signature itself is right for them).
async fn events_signed_with(
    server: &TestServer,
    timestamp: u64,
    body: &str,
    md5: &str,
) -> (u16, Value) {
    let path = "/apps/main/events";
    let query =
        format!("auth_key={KEY}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={md5}");
    let signature = hmac_hex(SECRET, &format!("POST\n{path}\n{query}"));
    let response = reqwest::Client::new()
        .post(server.url(&format!("{path}?{query}&auth_signature={signature}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stale_auth_timestamp_gets_401() {
    let server = TestServer::start().await;
    let body = json!({"name": "e", "channel": "news", "data": "x"}).to_string();
    let md5 = hex::encode(Md5::digest(body.as_bytes()));
    for stale in [unix_now() - 601, unix_now() + 601] {
        let (status, reply) = events_signed_with(&server, stale, &body, &md5).await;
        assert_eq!(status, 401, "{reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("auth_timestamp"),
            "{reply}"
        );
    }
    // Within 600 s either way is accepted.
    let (status, _) = events_signed_with(&server, unix_now() - 590, &body, &md5).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_wrong_body_md5_gets_401() {
    let server = TestServer::start().await;
    let body = json!({"name": "e", "channel": "news", "data": "x"}).to_string();
    let other = hex::encode(Md5::digest(b"another body"));
    let (status, reply) = events_signed_with(&server, unix_now(), &body, &other).await;
    assert_eq!(status, 401, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("body_md5"),
        "{reply}"
    );
}

#[tokio::test]
async fn terminate_connections_is_signed_and_checks_the_user() {
    let server = TestServer::start().await;
    let path = "/apps/main/users/ann/terminate_connections";
    let (status, reply) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({})),
        path,
    )
    .await;
    assert_eq!((status, reply), (200, json!({})));
    let (status, _) = signed(
        &server,
        reqwest::Method::POST,
        path,
        &[],
        Some(json!({})),
        "/apps/main/users/bob/terminate_connections",
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_route_checks_the_signature_before_anything_else() {
    let server = TestServer::start().await;
    let routes = [
        (reqwest::Method::POST, "/apps/main/events", Some(json!({}))),
        (
            reqwest::Method::POST,
            "/apps/main/batch_events",
            Some(json!({})),
        ),
        (reqwest::Method::GET, "/apps/main/channels", None),
        (reqwest::Method::GET, "/apps/main/channels/news", None),
        (
            reqwest::Method::GET,
            "/apps/main/channels/presence-room/users",
            None,
        ),
        (
            reqwest::Method::POST,
            "/apps/main/users/ann/terminate_connections",
            Some(json!({})),
        ),
    ];
    for (method, path, body) in routes {
        // Signed correctly: not refused for its signature (a body that is
        // wrong for the route is a 400 after the check, never a 401).
        let (status, reply) = signed(&server, method.clone(), path, &[], body.clone(), path).await;
        assert!(status == 200 || status == 400, "{path}: {status} {reply}");
        // Signed for another route: 401 with the API's JSON error.
        let (status, reply) = signed(
            &server,
            method.clone(),
            path,
            &[],
            body.clone(),
            "/apps/main/other",
        )
        .await;
        assert_eq!(status, 401, "{path}: {reply}");
        assert_eq!(reply["error"]["code"], 401, "{path}: {reply}");
        assert_eq!(reply["error"]["message"], "invalid signature", "{path}");
        // An app that does not exist: 404.
        let other = path.replacen("/apps/main/", "/apps/nobody/", 1);
        let (status, reply) = signed(&server, method, &other, &[], body, &other).await;
        assert_eq!(
            (status, &reply["error"]["code"]),
            (404, &json!(404)),
            "{other}"
        );
    }
}

/// The probe of issue 13: an old signed trigger with a fresh
/// `auth_timestamp` and the `body_md5` of a new body put in front of its
/// query, its signature kept, and the new body. Before, the checks read the
/// first copies and the signature covered the last ones, so the forged event
/// was accepted and pushed.
#[tokio::test]
async fn an_old_signature_with_prepended_params_and_a_new_body_is_refused() {
    let server = TestServer::start().await;
    let (mut ann, _) = pusher(&server, "news").await;
    let old = unix_now() - 3600;
    for path in ["/apps/main/events", "/apps/main/batch_events"] {
        let (signed_body, forged_body) = if path.ends_with("batch_events") {
            (
                json!({"batch": [{"name": "old", "channel": "news", "data": "x"}]}),
                json!({"batch": [{"name": "forged", "channel": "news", "data": "y"}]}),
            )
        } else {
            (
                json!({"name": "old", "channel": "news", "data": "x"}),
                json!({"name": "forged", "channel": "news", "data": "y"}),
            )
        };
        let old_md5 = hex::encode(Md5::digest(signed_body.to_string().as_bytes()));
        let query =
            format!("auth_key={KEY}&auth_timestamp={old}&auth_version=1.0&body_md5={old_md5}");
        let signature = hmac_hex(SECRET, &format!("POST\n{path}\n{query}"));
        let forged = forged_body.to_string();
        let new_md5 = hex::encode(Md5::digest(forged.as_bytes()));
        let now = unix_now();
        let url = server.url(&format!(
            "{path}?auth_timestamp={now}&body_md5={new_md5}&{query}&auth_signature={signature}"
        ));
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(forged)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "{path}: {reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("more than once"),
            "{path}: {reply}"
        );
    }
    assert!(
        ann.no_push_within(std::time::Duration::from_millis(300))
            .await
    );
}

/// Each signed parameter given twice is refused, even when both copies are
/// the same or one differs only in case, and even with a signature right
/// for one of them.
#[tokio::test]
async fn a_repeated_auth_parameter_is_refused() {
    let server = TestServer::start().await;
    let path = "/apps/main/events";
    let body = json!({"name": "e", "channel": "news", "data": "x"}).to_string();
    let md5 = hex::encode(Md5::digest(body.as_bytes()));
    let now = unix_now();
    let query = format!("auth_key={KEY}&auth_timestamp={now}&auth_version=1.0&body_md5={md5}");
    let signature = hmac_hex(SECRET, &format!("POST\n{path}\n{query}"));
    let send = |query: String| {
        let url = server.url(&format!("{path}?{query}"));
        let body = body.clone();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let repeats = [
        format!("{query}&auth_signature={signature}&auth_signature={signature}"),
        format!("{query}&auth_signature=00&auth_signature={signature}"),
        format!("auth_key={KEY}&{query}&auth_signature={signature}"),
        format!("auth_key=other&{query}&auth_signature={signature}"),
        format!("body_md5={md5}&{query}&auth_signature={signature}"),
        format!("AUTH_TIMESTAMP={now}&{query}&auth_signature={signature}"),
    ];
    for repeated in repeats {
        let (status, reply) = send(repeated.clone()).await;
        assert_eq!(status, 400, "{repeated}: {reply}");
        assert_eq!(reply["error"]["code"], 400, "{repeated}: {reply}");
    }
    // The same request without a repeat is accepted.
    let (status, reply) = send(format!("{query}&auth_signature={signature}")).await;
    assert_eq!(status, 200, "{reply}");
}
