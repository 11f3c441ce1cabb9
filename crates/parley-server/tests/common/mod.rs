//! A Parley server on 127.0.0.1:0 and real clients for it.

#![allow(dead_code)]

pub mod chat;
pub mod cluster;
pub mod node;
pub mod pusher;
pub mod redis_process;
pub mod tcp_proxy;
pub mod webhooks;
// The same small filesystem the store's own tests fill and empty; test
// crates of two packages share the file rather than a copy of it.
#[path = "../../../parley-store/tests/common/tmpfs.rs"]
pub mod tmpfs;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parley_server::auth::{TokenClaims, TokenKeys, unix_now};
use parley_server::config::{AppConfig, NamespaceConfig, Overrides};
use parley_server::state::ServerState;
use parley_server::{Config, Server};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "test-secret-0123456789abcdef";
pub const API_KEY: &str = "test-api-key";
pub const OTHER_SECRET: &str = "other-secret-0123456789abcdef";
pub const OTHER_API_KEY: &str = "other-api-key";

/// Runs each scenario once per store backend: `on_both_backends!(a, b)`
/// makes `sqlite::a`, `postgres::a`, ... from `async fn a(backend: Backend)`
/// (the calling file imports `Backend`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn namespace(allow_publish: bool, anonymous: bool, private: bool) -> NamespaceConfig {
    NamespaceConfig {
        allow_publish,
        anonymous,
        private,
        ..NamespaceConfig::default()
    }
}

/// How many times `user` joined and left `channel`'s presence in `pushes`,
/// counting single pushes and batched `presence_diff`s alike.
pub fn presence_events(pushes: &[Value], channel: &str, user: &str) -> (usize, usize) {
    let (mut joins, mut leaves) = (0, 0);
    for push in pushes.iter().filter(|push| push["channel"] == channel) {
        match push["push"].as_str() {
            Some("join") if push["member"]["user"] == user => joins += 1,
            Some("leave") if push["user"] == user => leaves += 1,
            Some("presence_diff") => {
                let listed = |field: &str, user_of: fn(&Value) -> &Value| {
                    push[field].as_array().map_or(0, |list| {
                        list.iter().filter(|v| *user_of(v) == user).count()
                    })
                };
                joins += listed("joins", |member| &member["user"]);
                leaves += listed("leaves", |left| left);
            }
            _ => {}
        }
    }
    (joins, leaves)
}

/// The users a presence page (native `presence` or HTTP) lists.
pub fn member_users(page: &Value) -> Vec<String> {
    page["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|member| member["user"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The configuration most tests use: two apps, and namespaces for each rule.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let env: HashMap<&str, &str> = HashMap::from([
        ("PARLEY_APP_ID", "main"),
        ("PARLEY_APP_KEY", "main-key"),
        ("PARLEY_APP_SECRET", SECRET),
        ("PARLEY_API_KEY", API_KEY),
    ]);
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(data_dir.to_owned()),
        log_format: None,
    };
    let (mut config, _) = Config::load(
        None,
        |name| env.get(name).map(|v| v.to_string()),
        &overrides,
    )
    .unwrap();
    let namespaces = BTreeMap::from([
        ("default".to_owned(), namespace(true, false, false)),
        (
            "chat".to_owned(),
            NamespaceConfig {
                max_message_bytes: 4096,
                ..namespace(true, false, false)
            },
        ),
        ("live".to_owned(), namespace(false, true, false)),
        ("secret".to_owned(), namespace(true, false, true)),
        ("readonly".to_owned(), namespace(false, false, false)),
        (
            "room".to_owned(),
            NamespaceConfig {
                presence: true,
                typing: true,
                typing_timeout: Duration::from_millis(500),
                max_presence_state_bytes: 256,
                ..namespace(true, false, false)
            },
        ),
        (
            "stream".to_owned(),
            NamespaceConfig {
                presence: true,
                stale_after: Duration::from_millis(600),
                ..namespace(false, true, false)
            },
        ),
        (
            "talk".to_owned(),
            NamespaceConfig {
                persist: true,
                max_message_length: 50,
                ..namespace(true, false, false)
            },
        ),
        (
            "feed".to_owned(),
            NamespaceConfig {
                history_size: 5,
                history_ttl: Duration::from_secs(60),
                ..namespace(true, false, false)
            },
        ),
        (
            "limited".to_owned(),
            NamespaceConfig {
                persist: true,
                rate: Some("10/min".parse().unwrap()),
                ..namespace(true, false, false)
            },
        ),
        (
            "slow".to_owned(),
            NamespaceConfig {
                persist: true,
                slow_mode: Some(Duration::from_secs(30)),
                ..namespace(true, false, false)
            },
        ),
        (
            "status".to_owned(),
            NamespaceConfig {
                user_status: true,
                ..namespace(false, false, false)
            },
        ),
    ]);
    config.apps[0].namespaces = namespaces.clone();
    config.apps[0].public_key = Some(fixture("rsa-public.pem"));
    config.apps[0].allowed_origins = vec!["https://good.example".to_owned()];
    config.apps.push(AppConfig {
        id: "other".to_owned(),
        key: "other-key".to_owned(),
        secret: OTHER_SECRET.to_owned(),
        api_keys: vec![OTHER_API_KEY.to_owned()],
        max_connections_per_user: 100,
        max_subscriptions_per_client: 100,
        namespaces,
        ..AppConfig::default()
    });
    config
}

/// The store backends tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The local PostgreSQL, as the CI script makes sure it runs.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1";

/// A fresh PostgreSQL database, dropped with the value.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    pub fn create() -> Self {
        let name = format!("parley_server_test_{:016x}", rand_u64());
        psql(&format!("CREATE DATABASE {name}"));
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("{POSTGRES}/{}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn psql(sql: &str) {
    let status = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql failed: {sql}");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A server with the test configuration, its store on `backend`.
pub async fn start(backend: Backend) -> TestServer {
    TestServer::start_on(backend, |_| {}).await
}

/// A server whose store is on `backend` and whose main app has
/// `namespaces` besides (or instead of) the test configuration's.
pub async fn start_with_namespaces(
    backend: Backend,
    namespaces: impl IntoIterator<Item = (&'static str, NamespaceConfig)>,
) -> TestServer {
    TestServer::start_on(backend, |config| {
        for (name, namespace) in namespaces {
            config.apps[0].namespaces.insert(name.to_owned(), namespace);
        }
    })
    .await
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), parley_server::ServerError>>,
    _dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(Backend::Sqlite, adjust).await
    }

    /// A server whose store is on `backend`.
    pub async fn start_on(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        let database = (backend == Backend::Postgres).then(TestDatabase::create);
        config.database_url = database.as_ref().map(TestDatabase::url);
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(config).await.unwrap();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            stop: Some(stop),
            task,
            _dir: dir,
            _database: database,
        }
    }

    /// Starts graceful shutdown and waits for the server to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("server stops in time")
            .unwrap()
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn token(&self, user: &str) -> String {
        token_with(SECRET, user, |_| {})
    }

    /// A client that has sent `connect` with a token for `user`.
    pub async fn user(&self, user: &str) -> Client {
        let mut client = Client::open(&self.ws_url()).await;
        let reply = client
            .call("connect", json!({"token": self.token(user)}))
            .await;
        assert!(reply.get("result").is_some(), "connect failed: {reply}");
        client
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        api_call(&self.url(path), method, Some(API_KEY), body).await
    }
}

pub async fn api_call(
    url: &str,
    method: reqwest::Method,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub fn token_with(secret: &str, user: &str, adjust: impl FnOnce(&mut TokenClaims)) -> String {
    let mut claims = TokenClaims {
        sub: user.to_owned(),
        exp: Some(unix_now() + 600),
        name: None,
        avatar: None,
        roles: Vec::new(),
        info: None,
        channels: Vec::new(),
        channel: None,
    };
    adjust(&mut claims);
    TokenKeys::new(secret, None).unwrap().mint(&claims)
}

pub fn channel_token(user: &str, channel: &str) -> String {
    token_with(SECRET, user, |claims| {
        claims.channel = Some(channel.to_owned())
    })
}

/// The next push named `name` (its `push` field), skipping others.
pub async fn push_named(client: &mut Client, name: &str) -> Value {
    loop {
        let push = client.push().await;
        if push["push"] == name {
            return push;
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A native-protocol client over a real WebSocket.
pub struct Client {
    pub socket: Socket,
    next_id: u64,
    pushes: VecDeque<Value>,
}

impl Client {
    pub async fn open(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self {
            socket,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// Sends a command and waits for its reply; pushes that arrive first are
    /// kept for [`Client::push`].
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({"id": id, "method": method, "params": params});
        self.send_text(&command.to_string()).await;
        loop {
            let value = self.next_json().await;
            if value.get("id").and_then(Value::as_u64) == Some(id) {
                return value;
            }
            self.pushes.push_back(value);
        }
    }

    /// The result of a command that must succeed.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        let reply = self.call(method, params).await;
        reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method} failed: {reply}"))
    }

    /// The error code of a command that must fail.
    pub async fn error_code(&mut self, method: &str, params: Value) -> u64 {
        let reply = self.call(method, params).await;
        reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("{method} did not fail: {reply}"))
    }

    /// The next frame as JSON, whatever it is.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a frame, not an error");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next push (a frame without an id).
    pub async fn push(&mut self) -> Value {
        if let Some(push) = self.pushes.pop_front() {
            return push;
        }
        loop {
            let value = self.next_json().await;
            if value.get("id").is_none() {
                return value;
            }
        }
    }

    /// Reads (and so answers pings) for `wait`; returns whether no text
    /// frame arrived meanwhile.
    pub async fn no_push_within(&mut self, wait: Duration) -> bool {
        if !self.pushes.is_empty() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return true,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(Message::Text(text)))) => {
                    self.pushes.push_back(serde_json::from_str(&text).unwrap());
                    return false;
                }
                Ok(other) => panic!("unexpected frame: {other:?}"),
            }
        }
    }

    /// Every push that arrives within `wait`, reading all along (so pings
    /// are answered and the connection counts as alive).
    pub async fn pushes_within(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pushes = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.no_push_within(left).await {
                return pushes;
            }
            pushes.push(self.push().await);
        }
    }

    /// Reads until the server closes; returns the close code and reason and
    /// every text frame seen before it.
    pub async fn closed(&mut self) -> (u16, String, Vec<Value>) {
        let mut texts: Vec<Value> = self.pushes.drain(..).collect();
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("close in time");
            match message {
                Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                    return (code.into(), reason.to_string(), texts);
                }
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(Message::Text(text))) => texts.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("connection failed without a close frame: {error}"),
            }
        }
    }
}
