//! The server HTTP API and browser origins over the real wire.

use crate::common;

use common::{API_KEY, Client, TestServer, api_call};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn calls_without_a_valid_key_get_401_in_json() {
    let server = TestServer::start().await;
    let body = Some(json!({"channel": "news", "data": 1}));
    let (status, error) = api_call(
        &server.url("/api/v1/publish"),
        Method::POST,
        None,
        body.clone(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["code"], 401);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    let (status, _) = api_call(
        &server.url("/api/v1/publish"),
        Method::POST,
        Some("wrong"),
        body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = api_call(&server.url("/api/v1/info"), Method::GET, None, None).await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_the_right_status() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"channel": "news"}), 400),
        (json!({"channel": "bad name", "data": 1}), 400),
        (json!({"channel": "nowhere:x", "data": 1}), 404),
        (json!({"channel": "chat:x", "data": "x".repeat(5000)}), 413),
    ];
    for (body, expected) in cases {
        let (status, error) = server
            .api(Method::POST, "/api/v1/publish", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body}: {error}");
        assert_eq!(error["error"]["code"], expected);
    }
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/publish"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], 400);
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/publish"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"channel":"news","data":"{}"}}"#,
            "x".repeat(3 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/broadcast",
            Some(json!({"channels": [], "data": 1})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, error) = server.api(Method::GET, "/api/v1/nothing", None).await;
    assert_eq!((status, error["error"]["code"].as_u64()), (404, Some(404)));
    let (status, error) = server.api(Method::GET, "/api/v1/publish", None).await;
    assert_eq!((status, error["error"]["code"].as_u64()), (405, Some(405)));
    // The auth scheme is case-insensitive.
    let response = reqwest::Client::new()
        .get(server.url("/api/v1/info"))
        .header("authorization", format!("bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn broadcast_and_batch_publish_to_each_channel() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    client.ok("subscribe", json!({"channel": "a"})).await;
    client.ok("subscribe", json!({"channel": "b"})).await;
    let (status, reply) = server
        .api(
            Method::POST,
            "/api/v1/broadcast",
            Some(json!({"channels": ["a", "b"], "data": {"k": 1}})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["results"][0]["channel"], "a");
    assert_eq!(reply["results"][1]["offset"], 1);
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..2 {
        let push = client.push().await;
        assert_eq!(push["data"], json!({"k": 1}));
        seen.push(push["channel"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["a", "b"]);
    let batch = json!({"publications": [{"channel": "a", "data": 1}, {"channel": "a", "data": 2}, {"channel": "b", "data": 3}]});
    let (status, reply) = server.api(Method::POST, "/api/v1/batch", Some(batch)).await;
    assert_eq!(status, 200);
    assert_eq!(reply["results"][1]["offset"], 3);
    let data: Vec<_> = [
        client.push().await,
        client.push().await,
        client.push().await,
    ]
    .iter()
    .map(|push| push["data"].clone())
    .collect();
    assert_eq!(data, [json!(1), json!(2), json!(3)]);
    // One bad channel and nothing is published.
    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/broadcast",
            Some(json!({"channels": ["a", "nowhere:x"], "data": 9})),
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        client
            .no_push_within(std::time::Duration::from_millis(200))
            .await
    );
    server.stop().await;
}

#[tokio::test]
async fn channels_info_and_disconnect() {
    let server = TestServer::start().await;
    let mut a = server.user("42").await;
    let mut b = server.user("42").await;
    let mut c = server.user("43").await;
    a.ok("subscribe", json!({"channel": "chat:one"})).await;
    b.ok("subscribe", json!({"channel": "chat:one"})).await;
    c.ok("subscribe", json!({"channel": "news"})).await;

    let (status, list) = server
        .api(Method::GET, "/api/v1/channels?prefix=chat:", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["channels"],
        json!([{"channel": "chat:one", "subscribers": 2}])
    );
    let (_, list) = server.api(Method::GET, "/api/v1/channels", None).await;
    assert_eq!(list["channels"].as_array().unwrap().len(), 2);

    let (status, info) = server.api(Method::GET, "/api/v1/info", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["app"], "main");
    assert_eq!(info["connections"], 3);
    assert_eq!(info["subscriptions"], 3);
    assert_eq!(info["channels"], 2);
    assert!(info["node"].as_str().is_some() && info["version"].as_str().is_some());

    let (status, reply) = server
        .api(
            Method::POST,
            "/api/v1/disconnect",
            Some(json!({"user": "42"})),
        )
        .await;
    assert_eq!((status, reply["disconnected"].as_u64()), (200, Some(2)));
    for client in [&mut a, &mut b] {
        let (code, _, texts) = client.closed().await;
        assert_eq!(code, 4003);
        assert_eq!(texts.last().unwrap()["reconnect"], false);
    }
    assert!(c.ok("ping", json!({})).await.is_object());
    server.stop().await;
}

#[tokio::test]
async fn foreign_origins_are_refused_and_allowed_ones_get_cors() {
    let server = TestServer::start().await;
    // A WebSocket upgrade from a foreign page is refused before it opens.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("unexpected: {other}"),
    }
    // From the allowed origin it opens.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://good.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    // Without an Origin header (not a browser) it opens too.
    Client::open(&server.ws_url()).await;

    let http = reqwest::Client::new();
    let preflight = http
        .request(Method::OPTIONS, server.url("/api/v1/publish"))
        .header("origin", "https://good.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    let refused = http
        .request(Method::OPTIONS, server.url("/api/v1/publish"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let call = http
        .post(server.url("/api/v1/publish"))
        .bearer_auth(API_KEY)
        .header("origin", "https://evil.example")
        .json(&json!({"channel": "news", "data": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 403);
    let call = http
        .post(server.url("/api/v1/publish"))
        .bearer_auth(API_KEY)
        .header("origin", "https://good.example")
        .json(&json!({"channel": "news", "data": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    server.stop().await;
}

#[tokio::test]
async fn probes_and_metrics() {
    let server = TestServer::start().await;
    let mut client = server.user("42").await;
    client.ok("subscribe", json!({"channel": "news"})).await;
    client
        .ok("publish", json!({"channel": "news", "data": 1}))
        .await;
    client.push().await;
    let (status, body) = api_call(&server.url("/healthz"), Method::GET, None, None).await;
    assert_eq!((status, body), (200, json!("ok\n")));
    let (status, _) = api_call(&server.url("/readyz"), Method::GET, None, None).await;
    assert_eq!(status, 200);
    let (status, metrics) = api_call(&server.url("/metrics"), Method::GET, None, None).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    for name in [
        "parley_connections",
        "parley_subscriptions",
        "parley_channels",
        "parley_publications_total",
        "parley_deliveries_total",
        "parley_bytes_out_total",
        "parley_bytes_in_total",
        "parley_command_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    server.stop().await;
}

/// Issue 13: the preflight allowed only GET, POST and DELETE, so a browser
/// on another origin could not add a reaction (PUT) or edit a message
/// (PATCH). It now allows every method the API uses and the headers it
/// reads, and the real cross-origin calls work.
#[tokio::test]
async fn cors_preflight_allows_every_method_the_api_uses() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let (status, sent) = server
        .api(
            Method::POST,
            "/api/v1/messages",
            Some(json!({"channel": "talk:cors", "user": "alice", "text": "helo"})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    for (method, path) in [
        (
            "PUT",
            format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D"),
        ),
        ("PATCH", format!("/api/v1/messages/{id}")),
    ] {
        let preflight = http
            .request(Method::OPTIONS, server.url(&path))
            .header("origin", "https://good.example")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization,content-type,if-match",
            )
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{method}");
        let allowed = |name: &str| {
            preflight.headers()[name]
                .to_str()
                .unwrap()
                .to_ascii_uppercase()
        };
        let methods = allowed("access-control-allow-methods");
        for expected in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] {
            assert!(methods.contains(expected), "{methods}");
        }
        let headers = allowed("access-control-allow-headers");
        for expected in ["AUTHORIZATION", "CONTENT-TYPE", "IF-MATCH"] {
            assert!(headers.contains(expected), "{headers}");
        }
    }
    // The calls themselves, from the allowed origin.
    let token = server.token("alice");
    let edit = http
        .patch(server.url(&format!("/api/v1/messages/{id}")))
        .bearer_auth(&token)
        .header("origin", "https://good.example")
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    assert_eq!(
        edit.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    let edited: Value = edit.json().await.unwrap();
    assert_eq!(edited["text"], "hello");
    let reaction = http
        .put(server.url(&format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D")))
        .bearer_auth(&token)
        .header("origin", "https://good.example")
        .send()
        .await
        .unwrap();
    assert!(reaction.status().is_success(), "{}", reaction.status());
    assert_eq!(
        reaction.headers()["access-control-allow-origin"],
        "https://good.example"
    );
    server.stop().await;
}

/// The status of a WebSocket upgrade to `server` from a page of `origin`.
async fn upgrade_status(server: &TestServer, origin: &str) -> u16 {
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected: {other}"),
    }
}

#[tokio::test]
async fn a_server_on_loopback_allows_pages_served_from_this_machine() {
    // The test server listens on 127.0.0.1: a development server on
    // another local port may use it without configuration.
    let server = TestServer::start().await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:3000"] {
        assert_eq!(upgrade_status(&server, origin).await, 101, "{origin}");
        let preflight = reqwest::Client::new()
            .request(Method::OPTIONS, server.url("/api/v1/publish"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
    }
    for origin in ["https://localhost:5173", "http://localhost.evil.example"] {
        assert_eq!(upgrade_status(&server, origin).await, 403, "{origin}");
    }
    server.stop().await;

    // `allow_local_origins = false` turns it off.
    let server = TestServer::start_with(|config| config.allow_local_origins = Some(false)).await;
    assert_eq!(upgrade_status(&server, "http://localhost:5173").await, 403);
    server.stop().await;
}
