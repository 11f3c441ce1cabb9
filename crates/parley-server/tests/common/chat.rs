//! What the chat tests share: the namespaces they add, a moderator, rooms,
//! and the shape of the HTTP API's errors.

use parley_server::config::{NamespaceConfig, PinPermission, ReadReceipts};
use serde_json::{Value, json};

use super::{Backend, Client, SECRET, TestServer, start_with_namespaces, token_with};

/// A namespace of rooms: persisted, members only (`team` in the tests).
pub fn rooms() -> NamespaceConfig {
    NamespaceConfig {
        persist: true,
        members_only: true,
        ..NamespaceConfig::default()
    }
}

/// A server with the `team` namespace of rooms.
pub async fn start_with_rooms(backend: Backend) -> TestServer {
    start_with_namespaces(backend, [("team", rooms())]).await
}

/// A server for threads and pins: the `team` namespace of rooms, and
/// `board`, persisted, where members pin.
pub async fn start_with_boards(backend: Backend) -> TestServer {
    let board = NamespaceConfig {
        persist: true,
        pins: PinPermission::Members,
        ..NamespaceConfig::default()
    };
    start_with_namespaces(backend, [("team", rooms()), ("board", board)]).await
}

/// A server for read marks: `team`, rooms whose read receipts the room
/// sees, and `quiet`, rooms whose receipts stay private.
pub async fn start_with_receipts(backend: Backend) -> TestServer {
    let team = NamespaceConfig {
        read_receipts: ReadReceipts::Room,
        ..rooms()
    };
    start_with_namespaces(backend, [("team", team), ("quiet", rooms())]).await
}

/// A token for `user` with the app's moderator role.
pub fn moderator_token(user: &str) -> String {
    token_with(SECRET, user, |claims| {
        claims.roles = vec!["moderator".to_owned()];
    })
}

/// A client connected as `mod`, a moderator of the app.
pub async fn moderator(server: &TestServer) -> Client {
    let mut client = Client::open(&server.ws_url()).await;
    client
        .ok("connect", json!({"token": moderator_token("mod")}))
        .await;
    client
}

/// Creates a group room in `namespace` with `members` besides its owner,
/// the client's user, and returns its channel.
pub async fn room(client: &mut Client, namespace: &str, members: &[&str]) -> String {
    let created = client
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": namespace, "members": members}),
        )
        .await;
    created["room"]["channel"].as_str().unwrap().to_owned()
}

/// Sends `text` to `channel` and returns the acknowledged message.
pub async fn send(client: &mut Client, channel: &str, text: &str) -> Value {
    client
        .ok("message_send", json!({"channel": channel, "text": text}))
        .await
}

/// A channel name as one segment of an HTTP API path.
pub fn segment(channel: &str) -> String {
    channel.replace('#', "%23")
}

/// Checks that an HTTP API answer is the error `status`, in the API's JSON
/// shape.
pub fn assert_error(answer: (u16, Value), status: u16) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], status, "{}", answer.1);
    assert!(answer.1["error"]["message"].is_string(), "{}", answer.1);
}
