//! Live documents and live queries over the real wire, each test on SQLite
//! and on PostgreSQL: a user's devices share their progress, other users
//! are kept out, compare-and-set, concurrent increments, "continue
//! watching" as a live query, recovery with `since`, limits, and `kill -9`
//! after an acknowledged write.

use crate::common;

use std::time::Duration;

use common::chat::moderator_token;
use common::{Backend, Client, TestDatabase, TestServer, on_both_backends, push_named};
use futures_util::SinkExt;
use parley_server::config::NamespaceConfig;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    two_devices_of_one_user_see_each_others_progress,
    another_user_can_neither_read_nor_write_a_personal_document,
    only_moderators_write_where_clients_may_not_publish,
    a_version_conflict_answers_409_and_a_retry_with_its_version_succeeds,
    a_hundred_concurrent_increments_end_at_a_hundred,
    continue_watching_updates_itself_as_progress_moves,
    a_client_that_reconnects_with_since_gets_the_changes_it_missed,
    limits_answer_413_400_and_429,
    an_acknowledged_write_survives_kill_9,
    the_http_api_writes_compare_and_set_with_if_match_and_lists,
);

const PROGRESS: &str = "progress:watch#42";

fn namespace(allow_publish: bool, rate: &str) -> NamespaceConfig {
    NamespaceConfig {
        persist: true,
        documents: true,
        allow_publish,
        max_document_bytes: 1024,
        document_rate: Some(rate.parse().unwrap()),
        ..NamespaceConfig::default()
    }
}

async fn start(backend: Backend) -> TestServer {
    common::start_with_namespaces(
        backend,
        [
            ("progress", namespace(false, "10000/s")),
            ("board", namespace(false, "10000/s")),
            ("slow", namespace(true, "2/min")),
        ],
    )
    .await
}

async fn connect(server: &TestServer, token: &str) -> Client {
    let mut client = Client::open(&server.ws_url()).await;
    client.ok("connect", json!({"token": token})).await;
    client
}

fn error(reply: &Value) -> (u64, String) {
    (
        reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("not an error: {reply}")),
        reply["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

async fn two_devices_of_one_user_see_each_others_progress(backend: Backend) {
    let server = start(backend).await;
    let mut phone = server.user("42").await;
    let mut tv = server.user("42").await;
    for device in [&mut phone, &mut tv] {
        device.ok("subscribe", json!({"channel": PROGRESS})).await;
    }
    let written = phone
        .ok(
            "doc_set",
            json!({"channel": PROGRESS, "key": "ep1",
                   "data": {"position": 120, "duration": 1800, "completion": 6.7, "device": "phone"}}),
        )
        .await;
    assert_eq!(written["version"], 1);
    assert_eq!(written["updated_by"], "42");
    let push = push_named(&mut tv, "doc_changed").await;
    assert_eq!(push["channel"], PROGRESS);
    assert_eq!(push["offset"], written["offset"]);
    assert_eq!(push["data"]["key"], "ep1");
    assert_eq!(push["data"]["version"], 1);
    assert_eq!(push["data"]["data"]["position"], 120);
    // The TV goes on from there, with a merge.
    let merged = tv
        .ok(
            "doc_merge",
            json!({"channel": PROGRESS, "key": "ep1",
                   "patch": {"position": 600, "completion": 33.3, "device": "tv"}}),
        )
        .await;
    assert_eq!(merged["version"], 2);
    // The phone got its own change first, as every subscriber does.
    let own = push_named(&mut phone, "doc_changed").await;
    assert_eq!(own["data"]["version"], 1);
    let push = push_named(&mut phone, "doc_changed").await;
    assert_eq!(
        push["data"]["data"],
        json!({"position": 600, "duration": 1800, "completion": 33.3, "device": "tv"})
    );
    let got = phone
        .ok("doc_get", json!({"channel": PROGRESS, "key": "ep1"}))
        .await;
    assert_eq!(got["document"]["version"], 2);
    assert_eq!(got["document"]["data"]["device"], "tv");
    let deleted = phone
        .ok("doc_delete", json!({"channel": PROGRESS, "key": "ep1"}))
        .await;
    assert_eq!(deleted["data"], Value::Null);
    let own = push_named(&mut tv, "doc_changed").await;
    assert_eq!(own["data"]["version"], 2);
    let push = push_named(&mut tv, "doc_changed").await;
    assert_eq!(
        (&push["data"]["data"], &push["data"]["version"]),
        (&Value::Null, &json!(3))
    );
    let got = tv
        .ok("doc_get", json!({"channel": PROGRESS, "key": "ep1"}))
        .await;
    assert_eq!(got["document"], Value::Null);
    server.stop().await;
}

async fn another_user_can_neither_read_nor_write_a_personal_document(backend: Backend) {
    let server = start(backend).await;
    let mut owner = server.user("42").await;
    owner
        .ok(
            "doc_set",
            json!({"channel": PROGRESS, "key": "ep1", "data": {"completion": 50}}),
        )
        .await;
    let mut other = server.user("7").await;
    let attempts = [
        ("doc_get", json!({"channel": PROGRESS, "key": "ep1"})),
        ("doc_list", json!({"channel": PROGRESS})),
        ("doc_watch", json!({"channel": PROGRESS, "limit": 5})),
        (
            "doc_set",
            json!({"channel": PROGRESS, "key": "ep1", "data": {"completion": 0}}),
        ),
        (
            "doc_merge",
            json!({"channel": PROGRESS, "key": "ep1", "patch": {"completion": 0}}),
        ),
        (
            "doc_increment",
            json!({"channel": PROGRESS, "key": "ep1", "field": "completion", "by": 1}),
        ),
        ("doc_delete", json!({"channel": PROGRESS, "key": "ep1"})),
        ("subscribe", json!({"channel": PROGRESS})),
    ];
    for (method, params) in attempts {
        let reply = other.call(method, params).await;
        assert_eq!(error(&reply).0, 403, "{method}: {reply}");
    }
    // Nothing changed.
    let got = owner
        .ok("doc_get", json!({"channel": PROGRESS, "key": "ep1"}))
        .await;
    assert_eq!(got["document"]["version"], 1);
    server.stop().await;
}

async fn only_moderators_write_where_clients_may_not_publish(backend: Backend) {
    let server = start(backend).await;
    let board = "board:standings";
    let mut fan = server.user("fan").await;
    let reply = fan
        .call(
            "doc_set",
            json!({"channel": board, "key": "score", "data": {"home": 1}}),
        )
        .await;
    assert_eq!(error(&reply).0, 403, "{reply}");
    let mut referee = connect(&server, &moderator_token("referee")).await;
    referee
        .ok(
            "doc_set",
            json!({"channel": board, "key": "score", "data": {"home": 1, "away": 0}}),
        )
        .await;
    // Everyone who may subscribe reads it.
    let got = fan
        .ok("doc_get", json!({"channel": board, "key": "score"}))
        .await;
    assert_eq!(got["document"]["data"], json!({"home": 1, "away": 0}));
    // The backend writes too, through the API key.
    let (status, body) = server
        .api(
            reqwest::Method::PUT,
            "/api/v1/channels/board:standings/docs/score",
            Some(json!({"home": 2, "away": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    server.stop().await;
}

async fn a_version_conflict_answers_409_and_a_retry_with_its_version_succeeds(backend: Backend) {
    let server = start(backend).await;
    let mut phone = server.user("42").await;
    let mut tv = server.user("42").await;
    let set = |data: Value, version: u64| json!({"channel": PROGRESS, "key": "ep2", "data": data, "if_version": version});
    // Version 0: create only if missing.
    phone.ok("doc_set", set(json!({"position": 10}), 0)).await;
    tv.ok("doc_set", set(json!({"position": 20}), 1)).await;
    // The phone still believes in version 1.
    let reply = phone.call("doc_set", set(json!({"position": 15}), 1)).await;
    assert_eq!(error(&reply).0, 409, "{reply}");
    let current = &reply["error"]["current"];
    assert_eq!(current["version"], 2);
    assert_eq!(current["data"], json!({"position": 20}));
    // It merges what it knows into the current data and retries.
    let retried = phone
        .ok(
            "doc_merge",
            json!({"channel": PROGRESS, "key": "ep2", "patch": {"seen": true},
                   "if_version": current["version"]}),
        )
        .await;
    assert_eq!(retried["version"], 3);
    assert_eq!(retried["data"], json!({"position": 20, "seen": true}));
    // Deleting what is not at that version is refused the same way.
    let reply = tv
        .call(
            "doc_delete",
            json!({"channel": PROGRESS, "key": "ep2", "if_version": 2}),
        )
        .await;
    assert_eq!(error(&reply).0, 409, "{reply}");
    server.stop().await;
}

async fn a_hundred_concurrent_increments_end_at_a_hundred(backend: Backend) {
    let server = start(backend).await;
    let mut devices = Vec::new();
    for _ in 0..4 {
        devices.push(server.user("42").await);
    }
    // Every increment sent before any answer, from four connections.
    for device in &mut devices {
        for n in 0..25 {
            let command = json!({"id": 1000 + n, "method": "doc_increment",
                "params": {"channel": PROGRESS, "key": "stats", "field": "plays", "by": 1}});
            device
                .socket
                .feed(Message::text(command.to_string()))
                .await
                .unwrap();
        }
        device.socket.flush().await.unwrap();
    }
    let mut versions = Vec::new();
    for device in &mut devices {
        let mut answered = 0;
        while answered < 25 {
            let reply = device.next_json().await;
            if reply.get("id").is_none() {
                continue;
            }
            assert!(reply["result"].is_object(), "{reply}");
            versions.push(reply["result"]["version"].as_u64().unwrap());
            answered += 1;
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=100).collect::<Vec<u64>>());
    let got = devices[0]
        .ok("doc_get", json!({"channel": PROGRESS, "key": "stats"}))
        .await;
    assert_eq!(got["document"]["data"]["plays"], 100);
    server.stop().await;
}

/// The next `query_changed` push, after any other push.
async fn query_changed(client: &mut Client) -> Value {
    push_named(client, "query_changed").await
}

fn keys(values: &Value) -> Vec<&str> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {values}"))
        .iter()
        .map(|value| value["key"].as_str().or(value.as_str()).unwrap())
        .collect()
}

async fn continue_watching_updates_itself_as_progress_moves(backend: Backend) {
    let server = start(backend).await;
    let mut tv = server.user("42").await;
    let mut phone = server.user("42").await;
    // Each report carries when it was watched, in order (a clock would
    // tie within a millisecond).
    let mut clock = 0;
    let mut progress = |key: &str, completion: f64| {
        clock += 1;
        json!({"channel": PROGRESS, "key": key,
               "patch": {"completion": completion, "watched_at": clock}})
    };
    phone.ok("doc_merge", progress("ep1", 40.0)).await;
    phone.ok("doc_merge", progress("done", 97.0)).await;
    let watch = tv
        .ok(
            "doc_watch",
            json!({"channel": PROGRESS, "where": {"completion": {"lt": 90}},
                   "order": "watched_at:desc", "limit": 20}),
        )
        .await;
    let query = watch["query"].clone();
    assert_eq!(keys(&watch["documents"]), ["ep1"]);

    // A new item started on the phone enters the row.
    phone.ok("doc_merge", progress("ep2", 5.0)).await;
    let change = query_changed(&mut tv).await;
    assert_eq!(change["query"], query);
    assert_eq!(keys(&change["added"]), ["ep2"]);
    assert_eq!(change["removed"], json!([]));
    assert_eq!(change["keys"], json!(["ep2", "ep1"]));

    // Progress moves within the row.
    phone.ok("doc_merge", progress("ep1", 60.0)).await;
    let change = query_changed(&mut tv).await;
    assert_eq!(keys(&change["updated"]), ["ep1"]);
    assert_eq!(change["updated"][0]["data"]["completion"], 60.0);
    assert_eq!(change["keys"], json!(["ep1", "ep2"]));

    // An item finished elsewhere changes nothing in the row, and the next
    // change is the one pushed: ep1 passes 90 % and leaves it.
    phone.ok("doc_merge", progress("other", 99.0)).await;
    phone.ok("doc_merge", progress("ep1", 91.0)).await;
    let change = query_changed(&mut tv).await;
    assert_eq!(change["removed"], json!(["ep1"]));
    assert_eq!(change["added"], json!([]));
    assert_eq!(change["keys"], json!(["ep2"]));

    // Unwatched: no more pushes.
    tv.ok("doc_unwatch", json!({"query": query})).await;
    phone.ok("doc_merge", progress("ep3", 1.0)).await;
    assert!(tv.no_push_within(Duration::from_millis(300)).await);
    let reply = tv.call("doc_unwatch", json!({"query": query})).await;
    assert_eq!(error(&reply).0, 404);

    // A limit keeps the row short: the oldest falls out as a new one enters.
    let watch = tv
        .ok(
            "doc_watch",
            json!({"channel": PROGRESS, "where": {"completion": {"lt": 90}},
                   "order": "watched_at:desc", "limit": 2}),
        )
        .await;
    assert_eq!(keys(&watch["documents"]), ["ep3", "ep2"]);
    phone.ok("doc_merge", progress("ep4", 2.0)).await;
    let change = query_changed(&mut tv).await;
    assert_eq!(keys(&change["added"]), ["ep4"]);
    assert_eq!(change["removed"], json!(["ep2"]));
    server.stop().await;
}

async fn a_client_that_reconnects_with_since_gets_the_changes_it_missed(backend: Backend) {
    let server = start(backend).await;
    let mut tv = server.user("42").await;
    let position = tv.ok("subscribe", json!({"channel": PROGRESS})).await;
    drop(tv);
    let mut phone = server.user("42").await;
    for completion in [10, 20] {
        phone
            .ok(
                "doc_merge",
                json!({"channel": PROGRESS, "key": "ep1", "patch": {"completion": completion}}),
            )
            .await;
    }
    let mut tv = server.user("42").await;
    let reply = tv
        .ok(
            "subscribe",
            json!({"channel": PROGRESS,
                   "since": {"offset": position["offset"], "epoch": position["epoch"]}}),
        )
        .await;
    assert_eq!(reply["recovered"], true, "{reply}");
    for (version, completion) in [(1, 10), (2, 20)] {
        let push = push_named(&mut tv, "doc_changed").await;
        assert_eq!(push["data"]["version"], version);
        assert_eq!(push["data"]["data"]["completion"], completion);
    }
    server.stop().await;
}

async fn limits_answer_413_400_and_429(backend: Backend) {
    let server = start(backend).await;
    let mut user = server.user("42").await;
    let reply = user
        .call(
            "doc_set",
            json!({"channel": PROGRESS, "key": "big", "data": {"text": "x".repeat(2000)}}),
        )
        .await;
    assert_eq!(error(&reply).0, 413, "{reply}");
    // Growing past the limit by a merge is refused alike.
    user.ok(
        "doc_set",
        json!({"channel": PROGRESS, "key": "grows", "data": {"text": "x".repeat(600)}}),
    )
    .await;
    let reply = user
        .call(
            "doc_merge",
            json!({"channel": PROGRESS, "key": "grows", "patch": {"more": "y".repeat(600)}}),
        )
        .await;
    assert_eq!(error(&reply).0, 413, "{reply}");

    let reply = user
        .call(
            "doc_list",
            json!({"channel": PROGRESS, "where": {"completion": {"lower_than": 90}}}),
        )
        .await;
    let (code, message) = error(&reply);
    assert_eq!(code, 400);
    assert!(message.contains("completion"), "{message}");
    let reply = user
        .call(
            "doc_watch",
            json!({"channel": PROGRESS, "where": {"no such'field": 1}}),
        )
        .await;
    let (code, message) = error(&reply);
    assert_eq!(code, 400);
    assert!(message.contains("no such'field"), "{message}");
    let reply = user
        .call(
            "doc_increment",
            json!({"channel": PROGRESS, "key": "grows", "field": "text", "by": 1}),
        )
        .await;
    assert_eq!(error(&reply).0, 400, "{reply}");

    // Two writes a minute in "slow": the third waits.
    let channel = "slow:notes";
    for n in 0..2 {
        user.ok(
            "doc_set",
            json!({"channel": channel, "key": "k", "data": {"n": n}}),
        )
        .await;
    }
    let reply = user
        .call(
            "doc_set",
            json!({"channel": channel, "key": "k", "data": {"n": 3}}),
        )
        .await;
    assert_eq!(
        error(&reply),
        (429, "too many document writes".into()),
        "{reply}"
    );
    assert!(reply["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    // A namespace without documents says so.
    let reply = user
        .call("doc_get", json!({"channel": "talk:room", "key": "k"}))
        .await;
    assert_eq!(error(&reply).0, 400, "{reply}");
    server.stop().await;
}

async fn an_acknowledged_write_survives_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parley.toml"),
        "[namespaces.progress]\npersist = true\ndocuments = true\ndocument_rate = \"10000/s\"\n",
    )
    .unwrap();
    let database = (backend == Backend::Postgres).then(TestDatabase::create);
    let url = database.as_ref().map(TestDatabase::url);

    let mut server = crate::durability::spawn(dir.path(), url.as_deref()).await;
    let mut client = server.user("42").await;
    const WRITES: u64 = 100;
    for n in 0..WRITES {
        let command = json!({"id": 100 + n, "method": "doc_increment",
            "params": {"channel": PROGRESS, "key": "stats", "field": "plays"}});
        client
            .socket
            .feed(Message::text(command.to_string()))
            .await
            .unwrap();
    }
    client.socket.flush().await.unwrap();
    let mut acknowledged = 0;
    while acknowledged < WRITES {
        let reply = client.next_json().await;
        assert!(reply["result"].is_object(), "{reply}");
        acknowledged += 1;
    }
    // Hard, right after the last acknowledgement.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = crate::durability::spawn(dir.path(), url.as_deref()).await;
    let mut client = server.user("42").await;
    let got = client
        .ok("doc_get", json!({"channel": PROGRESS, "key": "stats"}))
        .await;
    assert_eq!(got["document"]["data"]["plays"], WRITES);
    assert_eq!(got["document"]["version"], WRITES);
    // And every change is in the stream, for recovery.
    let reply = client
        .ok(
            "subscribe",
            json!({"channel": PROGRESS, "since": {"offset": 0, "epoch": ""}}),
        )
        .await;
    assert_eq!(reply["offset"], WRITES, "{reply}");
}

async fn http(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    credential: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(credential);
    if let Some(version) = if_match {
        request = request.header("If-Match", version);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|etag| etag.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

async fn the_http_api_writes_compare_and_set_with_if_match_and_lists(backend: Backend) {
    use reqwest::Method;
    let server = start(backend).await;
    let mut tv = server.user("42").await;
    tv.ok("subscribe", json!({"channel": PROGRESS})).await;
    let path = "/api/v1/channels/progress:watch%2342/docs/ep1";
    let owner = server.token("42");
    let (status, etag, body) = http(
        &server,
        Method::PUT,
        path,
        &owner,
        Some("\"0\""),
        Some(json!({"completion": 10, "watched_at": 1})),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"1\"")), "{body}");
    // The write reaches the user's connected device.
    let push = push_named(&mut tv, "doc_changed").await;
    assert_eq!(push["data"]["data"]["completion"], 10);
    // A stale If-Match is 412, with the current document.
    let (status, _, body) = http(
        &server,
        Method::PATCH,
        path,
        &owner,
        Some("\"0\""),
        Some(json!({"completion": 20})),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["error"]["current"]["version"], 1);
    assert_eq!(body["error"]["current"]["data"]["completion"], 10);
    let (status, etag, body) = http(
        &server,
        Method::PATCH,
        path,
        &owner,
        Some("\"1\""),
        Some(json!({"completion": 95})),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")), "{body}");
    // Another user's token reads nothing of it.
    let stranger = server.token("7");
    let (status, _, body) = http(&server, Method::GET, path, &stranger, None, None).await;
    assert_eq!(status, 403, "{body}");
    // The backend reads everything; lists take where as JSON.
    let (status, _, body) = http(&server, Method::GET, path, common::API_KEY, None, None).await;
    assert_eq!(
        (status, &body["data"]["completion"]),
        (200, &json!(95)),
        "{body}"
    );
    let list = |filter: &str| {
        format!(
            "/api/v1/channels/progress:watch%2342/docs?where={}&order=completion:desc",
            urlencode(filter)
        )
    };
    let (status, _, body) = http(
        &server,
        Method::GET,
        &list(r#"{"completion": {"gte": 90}}"#),
        &owner,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body["documents"]), ["ep1"]);
    let (status, _, body) = http(
        &server,
        Method::GET,
        &list(r#"{"completion": {"near": 90}}"#),
        &owner,
        None,
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("completion")
    );
    let (status, _, _) = http(&server, Method::DELETE, path, &owner, None, None).await;
    assert_eq!(status, 200);
    let (status, _, _) = http(&server, Method::GET, path, &owner, None, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A watcher connected to one node sees, live, what a device connected to
/// another writes: the watch reads the channel's committed events as its
/// own node receives them through Redis.
#[tokio::test]
async fn a_watch_on_one_node_follows_writes_made_on_another() {
    use common::cluster::{REDIS, persisting_node_with, unique_prefix};
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let with_progress = |config: &mut parley_server::config::Config| {
        config.apps[0]
            .namespaces
            .insert("progress".to_owned(), namespace(false, "10000/s"));
    };
    let a = persisting_node_with(&prefix, REDIS, &database, with_progress).await;
    let b = persisting_node_with(&prefix, REDIS, &database, with_progress).await;
    let mut tv = b.user("42").await;
    let mut phone = a.user("42").await;
    let watch = tv
        .ok(
            "doc_watch",
            json!({"channel": PROGRESS, "where": {"completion": {"lt": 90}},
                   "order": "completion:desc", "limit": 5}),
        )
        .await;
    assert_eq!(watch["documents"], json!([]));
    phone
        .ok(
            "doc_merge",
            json!({"channel": PROGRESS, "key": "ep1", "patch": {"completion": 30}}),
        )
        .await;
    let change = query_changed(&mut tv).await;
    assert_eq!(keys(&change["added"]), ["ep1"]);
    phone
        .ok(
            "doc_merge",
            json!({"channel": PROGRESS, "key": "ep1", "patch": {"completion": 99}}),
        )
        .await;
    let change = query_changed(&mut tv).await;
    assert_eq!(change["removed"], json!(["ep1"]));
    for server in [a, b] {
        server.stop().await;
    }
}
