//! A Pusher-protocol test client: connection, signed subscriptions and
//! sign-in, speaking the wire format directly.

#![allow(dead_code)]

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
        let url = format!(
            "ws://{}/app/{KEY}?protocol=7&client=js&version=8.4.0",
            server.addr
        );
        let mut client = Client::open(&url).await;
        let established = client.next_json().await;
        assert_eq!(established["event"], "pusher:connection_established");
        let data: Value = serde_json::from_str(established["data"].as_str().unwrap()).unwrap();
        let socket_id = data["socket_id"].as_str().unwrap().to_owned();
        Self { client, socket_id }
    }

    pub async fn send(&mut self, frame: Value) {
        self.client.send_text(&frame.to_string()).await;
    }

    /// The next frame's event name, channel and data, with string data
    /// parsed.
    pub async fn event(&mut self) -> (String, Option<String>, Value) {
        let frame = self.client.push().await;
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

    /// Sends `pusher:subscribe` for `channel`, signed when it is private.
    pub async fn subscribe(&mut self, channel: &str) {
        let auth = self.auth(channel, None);
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth}}))
            .await;
    }

    /// Subscribes and checks the subscription succeeded.
    pub async fn subscribed(&mut self, channel: &str) -> Value {
        self.subscribe(channel).await;
        let (event, on, data) = self.event().await;
        assert_eq!(event, "pusher_internal:subscription_succeeded", "{data}");
        assert_eq!(on.as_deref(), Some(channel));
        data
    }

    pub async fn subscribe_presence(&mut self, channel: &str, user: &str) -> Value {
        let channel_data = json!({"user_id": user, "user_info": {}}).to_string();
        let auth = self.auth(channel, Some(&channel_data));
        self.send(json!({"event": "pusher:subscribe",
                         "data": {"channel": channel, "auth": auth, "channel_data": channel_data}}))
            .await;
        let (event, _, data) = self.event().await;
        assert_eq!(event, "pusher_internal:subscription_succeeded", "{data}");
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
