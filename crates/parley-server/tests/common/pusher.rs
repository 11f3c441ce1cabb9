//! A Pusher-protocol test client (connection, signed subscriptions and
//! sign-in, speaking the wire format directly), and requests to the Pusher
//! HTTP API signed as the Pusher server SDKs sign them.

#![allow(dead_code)]

use md5::{Digest, Md5};
use parley_server::auth::unix_now;
use parley_server::pusher::sign::hmac_hex;
use serde_json::{Value, json};

use crate::common::{Client, SECRET, TestServer};

pub const KEY: &str = "main-key";

/// A Pusher connection and its socket id.
pub struct Pusher {
    pub client: Client,
    pub socket_id: String,
}

impl Pusher {
    pub async fn open(server: &TestServer) -> Self {
        // The query string pusher-js sends.
        let url = format!(
            "ws://{}/app/{KEY}?protocol=7&client=js&version=8.4.0&flash=false",
            server.addr
        );
        let mut client = Client::open(&url).await;
        let established = client.next_json().await;
        assert_eq!(established["event"], "pusher:connection_established");
        let data: Value = serde_json::from_str(established["data"].as_str().unwrap()).unwrap();
        assert!(data["activity_timeout"].as_u64().is_some(), "{data}");
        let socket_id = data["socket_id"].as_str().unwrap().to_owned();
        Self { client, socket_id }
    }

    pub async fn send(&mut self, frame: Value) {
        self.client.send_text(&frame.to_string()).await;
    }

    /// The next frame.
    pub async fn next(&mut self) -> Value {
        self.client.push().await
    }

    /// The next frame's event name, channel and data, with string data
    /// parsed.
    pub async fn event(&mut self) -> (String, Option<String>, Value) {
        let frame = self.next().await;
        let data = match &frame["data"] {
            Value::String(text) => {
                serde_json::from_str(text).unwrap_or(Value::String(text.clone()))
            }
            other => other.clone(),
        };
        (
            frame["event"].as_str().unwrap().to_owned(),
            frame["channel"].as_str().map(str::to_owned),
            data,
        )
    }

    pub fn auth(&self, channel: &str, channel_data: Option<&str>) -> String {
        let message = match channel_data {
            Some(data) => format!("{}:{channel}:{data}", self.socket_id),
            None => format!("{}:{channel}", self.socket_id),
        };
        format!("{KEY}:{}", hmac_hex(SECRET, &message))
    }

    /// Sends `pusher:subscribe` for `channel` with its signature, as for a
    /// private channel.
    pub async fn subscribe(&mut self, channel: &str) {
        let auth = self.auth(channel, None);
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth}}))
            .await;
    }

    /// Subscribes with a signature and checks the subscription succeeded.
    pub async fn subscribed(&mut self, channel: &str) -> Value {
        self.subscribe(channel).await;
        self.succeeded(channel).await
    }

    /// Subscribes without a signature, as to a public channel, and checks
    /// the subscription succeeded.
    pub async fn subscribe_public(&mut self, channel: &str) -> Value {
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel}}))
            .await;
        self.succeeded(channel).await
    }

    /// Subscribes to a presence channel as `user` without user info,
    /// signed, and checks the subscription succeeded.
    pub async fn subscribe_presence(&mut self, channel: &str, user: &str) -> Value {
        self.subscribe_presence_with_info(channel, user, json!({}))
            .await
    }

    /// Subscribes to a presence channel as `user` with `info`, signed, and
    /// checks the subscription succeeded.
    pub async fn subscribe_presence_with_info(
        &mut self,
        channel: &str,
        user: &str,
        info: Value,
    ) -> Value {
        let channel_data = json!({"user_id": user, "user_info": info}).to_string();
        let auth = self.auth(channel, Some(&channel_data));
        self.send(json!({"event": "pusher:subscribe",
                         "data": {"channel": channel, "auth": auth, "channel_data": channel_data}}))
            .await;
        self.succeeded(channel).await
    }

    /// Checks that the next frame says the subscription to `channel`
    /// succeeded, and returns its data.
    pub async fn succeeded(&mut self, channel: &str) -> Value {
        let (event, on, data) = self.event().await;
        assert_eq!(event, "pusher_internal:subscription_succeeded", "{data}");
        assert_eq!(on.as_deref(), Some(channel));
        data
    }

    /// Sends `pusher:signin` for `user_data`, signed as the server SDKs
    /// sign it.
    pub async fn send_signin(&mut self, user_data: &Value) {
        let user_data = user_data.to_string();
        let signature = hmac_hex(SECRET, &format!("{}::user::{user_data}", self.socket_id));
        self.send(json!({"event": "pusher:signin",
                         "data": {"auth": format!("{KEY}:{signature}"), "user_data": user_data}}))
            .await;
    }

    /// Signs in and checks `pusher:signin_success`.
    pub async fn sign_in(&mut self, user_data: Value) {
        self.send_signin(&user_data).await;
        let (event, _, data) = self.event().await;
        assert_eq!(event, "pusher:signin_success", "{data}");
        let echoed: Value = serde_json::from_str(data["user_data"].as_str().unwrap()).unwrap();
        assert_eq!(echoed, user_data);
    }
}

/// Sends a request to the Pusher HTTP API signed as pusher-http-node signs
/// it: the auth parameters and `query` sorted, `body_md5` of the body, the
/// signature over the method, `signed_path` (the path as the server sees
/// it, which a proxy may prefix) and that query string.
pub async fn signed(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
    signed_path: &str,
) -> (u16, Value) {
    let timestamp = unix_now().to_string();
    let body = body.map(|body| body.to_string());
    let md5 = body
        .as_ref()
        .map(|body| hex::encode(Md5::digest(body.as_bytes())));
    let mut params: Vec<(&str, &str)> = vec![
        ("auth_key", KEY),
        ("auth_timestamp", &timestamp),
        ("auth_version", "1.0"),
    ];
    if let Some(md5) = &md5 {
        params.push(("body_md5", md5));
    }
    params.extend_from_slice(query);
    params.sort();
    let query_string = params
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let signature = hmac_hex(
        SECRET,
        &format!("{}\n{signed_path}\n{query_string}", method.as_str()),
    );
    let url = server.url(&format!("{path}?{query_string}&auth_signature={signature}"));
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}

/// POSTs `body` to the Pusher HTTP API at `path`, signed as the SDKs sign.
pub async fn post_signed(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    signed(server, reqwest::Method::POST, path, &[], Some(body), path).await
}
