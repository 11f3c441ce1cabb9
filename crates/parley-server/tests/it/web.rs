//! The web pages over plain HTTP: the embedded files with their content
//! types, caching and security headers; `/demo` and `/admin` turned off;
//! `POST /demo/token` refused while the demo is off, validated, renewed and
//! rate-limited per address while it is on.

use crate::common;

use common::{SECRET, TestServer};
use parley_server::auth::TokenKeys;
use parley_server::config::{DEMO_NAMESPACE, Rate};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};

async fn demo_server(tokens_per_minute: u32) -> TestServer {
    TestServer::start_with(|config| {
        config.enable_demo();
        config.web.demo_tokens_per_ip = Rate {
            count: tokens_per_minute,
            period: std::time::Duration::from_secs(60),
        };
    })
    .await
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{}{path}", server.addr))
        .await
        .expect("the server answers")
}

async fn error_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("a JSON error body");
    body["error"]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

async fn mint(server: &TestServer, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{}/demo/token", server.addr))
        .json(&body)
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn pages_scripts_and_styles_have_their_types_caching_and_a_strict_policy() {
    let server = demo_server(10).await;
    let cases = [
        (
            "/demo",
            "text/html; charset=utf-8",
            "<title>Parley demo chat</title>",
        ),
        (
            "/demo/",
            "text/html; charset=utf-8",
            "<title>Parley demo chat</title>",
        ),
        (
            "/demo/main.js",
            "text/javascript; charset=utf-8",
            "import { Parley }",
        ),
        ("/demo/demo.css", "text/css; charset=utf-8", ".message-list"),
        (
            "/admin",
            "text/html; charset=utf-8",
            "<title>Parley admin</title>",
        ),
        (
            "/admin/views/reports.js",
            "text/javascript; charset=utf-8",
            "/api/v1/reports",
        ),
        ("/assets/base.css", "text/css; charset=utf-8", ":root"),
        (
            "/sdk/index.js",
            "text/javascript; charset=utf-8",
            "export { Parley }",
        ),
    ];
    for (path, content_type, text) in cases {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], content_type, "{path}");
        assert_eq!(headers[CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            policy.starts_with("default-src 'none'; script-src 'self';"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(text), "{path} does not hold {text:?}");

        // The browser's copy is current: 304 without a body.
        let again = reqwest::Client::new()
            .get(format!("http://{}{path}", server.addr))
            .header(IF_NONE_MATCH, headers[ETAG].clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()[ETAG], headers[ETAG], "{path}");
    }
    for path in [
        "/demo/missing.js",
        "/admin/../../Cargo.toml",
        "/sdk/",
        "/assets/nothing.css",
    ] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_demo_is_off_by_default_and_the_admin_ui_can_be_turned_off() {
    let server = TestServer::start_with(|config| config.web.admin = false).await;
    for path in ["/demo", "/demo/main.js", "/sdk/index.js"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            error_message(response)
                .await
                .contains("parley serve --demo"),
            "{path}"
        );
    }
    for path in ["/admin", "/admin/main.js", "/assets/base.css"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = mint(&server, json!({"name": "Ann"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(error_message(response).await.contains("the demo is off"));
    assert!(
        !server
            .state
            .default_app
            .config
            .namespaces
            .contains_key(DEMO_NAMESPACE)
    );
    server.stop().await;

    // The admin UI is on by default.
    let server = TestServer::start().await;
    assert_eq!(get(&server, "/admin").await.status(), StatusCode::OK);
    assert_eq!(get(&server, "/demo").await.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn a_guest_token_names_a_guest_of_the_default_app_and_is_renewed_for_the_same_guest() {
    let server = demo_server(10).await;
    let response = mint(&server, json!({"name": "  Ann  "})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Ann");
    assert_eq!(body["app"], "main");
    assert_eq!(body["namespace"], "demo");
    let user = body["user"].as_str().unwrap().to_owned();
    assert!(user.starts_with("guest-"), "{user}");
    let keys = TokenKeys::new(SECRET, None).unwrap();
    let claims = keys
        .verify_connection(body["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(&*claims.user, user);
    assert_eq!(claims.name.as_deref(), Some("Ann"));
    let expires_at = claims.expires_at.expect("a guest token expires");
    assert_eq!(body["expires_at"], expires_at);
    assert!(expires_at <= parley_server::auth::unix_now() + 15 * 60);

    // Renewing keeps the user; another guest gets another id.
    let renewed: Value = mint(&server, json!({"name": "Ann B.", "renew": body["token"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renewed["user"], user.as_str());
    assert_eq!(renewed["name"], "Ann B.");
    let other: Value = mint(&server, json!({"name": "Bob"}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(other["user"], user.as_str());

    // Only a valid guest token is renewed.
    let stranger = keys.mint(&parley_server::auth::TokenClaims {
        sub: "42".into(),
        exp: Some(parley_server::auth::unix_now() + 60),
        name: None,
        avatar: None,
        roles: vec!["admin".into()],
        info: None,
        channels: vec![],
        channel: None,
    });
    for renew in [stranger.as_str(), "not-a-token"] {
        let response = mint(&server, json!({"name": "Eve", "renew": renew})).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{renew}");
        assert!(error_message(response).await.starts_with("cannot renew"));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_guest_name_is_validated() {
    let server = demo_server(20).await;
    let long = "x".repeat(33);
    let cases = [
        (json!({"name": ""}), "name must not be empty"),
        (json!({"name": "   "}), "name must not be empty"),
        (json!({"name": long}), "at most 32 characters"),
        (json!({"name": "a\u{0}b"}), "control characters"),
        (json!({"name": "Ann", "admin": true}), "unknown field"),
        (json!({"nom": "Ann"}), "name"),
        (json!("Ann"), "invalid type"),
    ];
    for (body, message) in cases {
        let response = mint(&server, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = error_message(response).await;
        assert!(text.contains(message), "{body}: {text}");
    }
    let response = reqwest::Client::new()
        .post(format!("http://{}/demo/token", server.addr))
        .body(r#"{"name": "Ann"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    server.stop().await;
}

#[tokio::test]
async fn guest_tokens_are_rate_limited_per_address() {
    let server = demo_server(3).await;
    for _ in 0..3 {
        assert_eq!(
            mint(&server, json!({"name": "Ann"})).await.status(),
            StatusCode::OK
        );
    }
    let response = mint(&server, json!({"name": "Ann"})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_message(response).await,
        "too many guest tokens from this address"
    );
    // The limit is taken before the body is read: bad bodies count too.
    let response = mint(&server, json!({"name": ""})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}
