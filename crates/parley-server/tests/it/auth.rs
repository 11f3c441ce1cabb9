//! Connection and channel tokens over the real wire.

use crate::common;

use common::{Client, OTHER_SECRET, SECRET, TestServer, channel_token, fixture, token_with};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parley_server::auth::unix_now;
use serde_json::json;

async fn connect_with(server: &TestServer, token: &str) -> serde_json::Value {
    let mut client = Client::open(&server.ws_url()).await;
    client.call("connect", json!({"token": token})).await
}

fn signed(alg: Algorithm, key: &EncodingKey, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

#[tokio::test]
async fn hs256_token_connects_and_reply_describes_the_connection() {
    let server = TestServer::start().await;
    let exp = unix_now() + 600;
    let token = token_with(SECRET, "42", |claims| claims.exp = Some(exp));
    let reply = connect_with(&server, &token).await;
    let result = &reply["result"];
    assert_eq!(result["user"], "42");
    assert_eq!(result["expires_at"], exp);
    assert_eq!(result["ping_interval_ms"], 25_000);
    let client_id = result["client"].as_str().unwrap();
    assert!(
        client_id
            .split_once('.')
            .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok())
    );
    server.stop().await;
}

#[tokio::test]
async fn rs256_and_es256_tokens_connect_with_the_configured_public_key() {
    let server = TestServer::start().await;
    let rsa =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()).unwrap();
    let token = signed(
        Algorithm::RS256,
        &rsa,
        json!({"sub": "7", "exp": unix_now() + 60}),
    );
    assert_eq!(connect_with(&server, &token).await["result"]["user"], "7");
    server.stop().await;

    let server =
        TestServer::start_with(|config| config.apps[0].public_key = Some(fixture("ec-public.pem")))
            .await;
    let ec = EncodingKey::from_ec_pem(&std::fs::read(fixture("ec-private.pem")).unwrap()).unwrap();
    let token = signed(
        Algorithm::ES256,
        &ec,
        json!({"sub": "8", "exp": unix_now() + 60}),
    );
    assert_eq!(connect_with(&server, &token).await["result"]["user"], "8");
    // An RS256 token is refused when the app's key is an EC key.
    let token = signed(
        Algorithm::RS256,
        &rsa,
        json!({"sub": "7", "exp": unix_now() + 60}),
    );
    assert_eq!(connect_with(&server, &token).await["error"]["code"], 401);
    server.stop().await;
}

#[tokio::test]
async fn expired_token_says_refresh_and_keeps_the_socket_for_a_retry() {
    let server = TestServer::start().await;
    let mut client = Client::open(&server.ws_url()).await;
    let expired = token_with(SECRET, "42", |claims| claims.exp = Some(unix_now() - 10));
    let reply = client.call("connect", json!({"token": expired})).await;
    assert_eq!(reply["error"]["code"], 419);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refresh")
    );
    let reply = client
        .call("connect", json!({"token": server.token("42")}))
        .await;
    assert_eq!(reply["result"]["user"], "42");
    server.stop().await;
}

#[tokio::test]
async fn forged_tokens_are_refused_and_the_connection_closed() {
    let server = TestServer::start().await;
    let header_none = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = base64_url(&format!(r#"{{"sub":"42","exp":{}}}"#, unix_now() + 60));
    let forged = [
        // alg: none
        format!("{header_none}.{payload}."),
        // Another app's secret.
        token_with(OTHER_SECRET, "42", |_| {}),
        // A bad signature.
        {
            let token = server.token("42");
            format!("{}AAAA", &token[..token.len() - 4])
        },
        // Algorithm confusion: HS256 signed with the public key as secret.
        signed(
            Algorithm::HS256,
            &EncodingKey::from_secret(&std::fs::read(fixture("rsa-public.pem")).unwrap()),
            json!({"sub": "42", "exp": unix_now() + 60}),
        ),
        // A channel token cannot open a connection.
        channel_token("42", "secret:room"),
        "not a token".to_owned(),
    ];
    for token in forged {
        let mut client = Client::open(&server.ws_url()).await;
        let reply = client.call("connect", json!({"token": token})).await;
        assert_eq!(reply["error"]["code"], 401, "{token}: {reply}");
        let (code, _, _) = client.closed().await;
        assert_eq!(code, 4001, "{token}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_token_of_one_app_works_on_that_app_only() {
    let server = TestServer::start().await;
    let other_token = token_with(OTHER_SECRET, "42", |_| {});
    let mut client = Client::open(&format!("{}?app=other", server.ws_url())).await;
    assert_eq!(
        client.ok("connect", json!({"token": other_token})).await["user"],
        "42"
    );
    let mut client = Client::open(&server.ws_url()).await;
    assert_eq!(
        client.call("connect", json!({"token": other_token})).await["error"]["code"],
        401
    );
    server.stop().await;
}

#[tokio::test]
async fn anonymous_connections_only_where_a_namespace_allows_them() {
    let server = TestServer::start().await;
    let mut client = Client::open(&server.ws_url()).await;
    let result = client.ok("connect", json!({})).await;
    assert_eq!(result["user"], "");
    assert!(
        client
            .ok("subscribe", json!({"channel": "live:match-1"}))
            .await
            .is_object()
    );
    assert_eq!(
        client
            .error_code("subscribe", json!({"channel": "chat:room"}))
            .await,
        403
    );
    server.stop().await;

    let server = TestServer::start_with(|config| {
        for namespace in config.apps[0].namespaces.values_mut() {
            namespace.anonymous = false;
        }
    })
    .await;
    let mut client = Client::open(&server.ws_url()).await;
    assert_eq!(
        client.call("connect", json!({})).await["error"]["code"],
        401
    );
    assert_eq!(client.closed().await.0, 4001);
    server.stop().await;
}

#[tokio::test]
async fn refresh_extends_the_connection_and_must_keep_the_user() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    let exp = unix_now() + 3600;
    let result = client
        .ok(
            "refresh",
            json!({"token": token_with(SECRET, "42", |c| c.exp = Some(exp))}),
        )
        .await;
    assert_eq!(result["expires_at"], exp);
    assert_eq!(
        client
            .error_code("refresh", json!({"token": server.token("43")}))
            .await,
        401
    );
    let expired = token_with(SECRET, "42", |claims| claims.exp = Some(unix_now() - 1));
    assert_eq!(
        client
            .error_code("refresh", json!({"token": expired}))
            .await,
        419
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_connection_that_does_not_refresh_is_closed_with_the_expired_code() {
    let server =
        TestServer::start_with(|config| config.token_grace = std::time::Duration::from_millis(200))
            .await;
    let mut client = Client::open(&server.ws_url()).await;
    let token = token_with(SECRET, "42", |claims| claims.exp = Some(unix_now() + 1));
    client.ok("connect", json!({"token": token})).await;
    let (code, reason, texts) = client.closed().await;
    assert_eq!((code, reason.as_str()), (4300, "token expired"));
    assert_eq!(texts.last().unwrap()["push"], "disconnect");
    assert_eq!(texts.last().unwrap()["reconnect"], true);
    server.stop().await;
}

#[tokio::test]
async fn connection_token_channels_are_subscribed_at_connect() {
    let server = TestServer::start().await;
    let token = token_with(SECRET, "42", |claims| {
        claims.channels = vec!["secret:vip".into(), "nope:x".into()];
    });
    let mut client = Client::open(&server.ws_url()).await;
    let result = client.ok("connect", json!({"token": token})).await;
    assert_eq!(result["subscriptions"], json!(["secret:vip"]));
    assert_eq!(result["subscription_errors"][0]["channel"], "nope:x");
    assert_eq!(result["subscription_errors"][0]["code"], 404);
    let (status, _) = server
        .api(
            reqwest::Method::POST,
            "/api/v1/publish",
            Some(json!({"channel": "secret:vip", "data": 1})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(client.push().await["data"], 1);
    server.stop().await;
}

fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Issue 13: a token without `exp` never expired, so one leaked once was
/// valid forever. Every kind of token without `exp` is now refused unless
/// the app sets `allow_tokens_without_exp`.
#[tokio::test]
async fn tokens_without_exp_are_refused_unless_the_app_allows_them() {
    let connection = token_with(SECRET, "42", |claims| claims.exp = None);
    let channel = token_with(SECRET, "42", |claims| {
        claims.exp = None;
        claims.channel = Some("secret:room".to_owned());
    });
    let user_route = "/api/v1/channels/talk:noexp/messages";

    let server = TestServer::start().await;
    // The connection token.
    let mut client = Client::open(&server.ws_url()).await;
    let reply = client.call("connect", json!({"token": connection})).await;
    assert_eq!(reply["error"]["code"], 401, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("token has no exp"), "{message}");
    // A channel token.
    let mut client = server.user("42").await;
    let reply = client
        .call(
            "subscribe",
            json!({"channel": "secret:room", "token": channel}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 401, "{reply}");
    // The HTTP API's user token.
    let response = reqwest::Client::new()
        .get(server.url(user_route))
        .bearer_auth(&connection)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("token has no exp"), "{body}");
    server.stop().await;

    // With the option, each is accepted and the connection never expires.
    let server =
        TestServer::start_with(|config| config.apps[0].allow_tokens_without_exp = true).await;
    let reply = connect_with(&server, &connection).await;
    assert_eq!(reply["result"]["user"], "42", "{reply}");
    assert!(reply["result"]["expires_at"].is_null(), "{reply}");
    let mut client = server.user("42").await;
    client
        .ok(
            "subscribe",
            json!({"channel": "secret:room", "token": channel}),
        )
        .await;
    let response = reqwest::Client::new()
        .get(server.url(user_route))
        .bearer_auth(&connection)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}
