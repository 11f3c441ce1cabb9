//! Presence, typing and user status over the real wire.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Client, SECRET, TestServer, api_call, push_named, token_with};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn two_tabs_of_one_user_are_one_member_and_closing_one_pushes_no_leave() {
    let server = TestServer::start().await;
    let mut observer = server.user("obs").await;
    observer.ok("subscribe", json!({"channel": "room:1"})).await;
    assert_eq!(
        push_named(&mut observer, "join").await["member"]["user"],
        "obs"
    );

    let token = token_with(SECRET, "ann", |claims| claims.name = Some("Ann".into()));
    let mut tabs = Vec::new();
    for _ in 0..2 {
        let mut tab = Client::open(&server.ws_url()).await;
        tab.ok("connect", json!({"token": token})).await;
        tab.ok("subscribe", json!({"channel": "room:1"})).await;
        tabs.push(tab);
    }
    let join = push_named(&mut observer, "join").await;
    assert_eq!(join["member"], json!({"user": "ann", "name": "Ann"}));
    assert!(
        observer.no_push_within(Duration::from_millis(300)).await,
        "one join for two tabs"
    );

    let stats = observer
        .ok("presence_stats", json!({"channel": "room:1"}))
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 2, "num_connections": 3, "num_anonymous": 0})
    );
    let members = observer.ok("presence", json!({"channel": "room:1"})).await;
    let users: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["ann", "obs"]);

    drop(tabs.pop());
    assert!(
        observer.no_push_within(Duration::from_millis(500)).await,
        "closing one tab is not a leave"
    );
    drop(tabs.pop());
    let leave = push_named(&mut observer, "leave").await;
    assert_eq!(
        (leave["channel"].as_str(), leave["user"].as_str()),
        (Some("room:1"), Some("ann"))
    );
    server.stop().await;
}

#[tokio::test]
async fn member_state_is_set_on_subscribe_and_replaced_by_updates() {
    let server = TestServer::start().await;
    let mut observer = server.user("obs").await;
    observer.ok("subscribe", json!({"channel": "room:2"})).await;
    push_named(&mut observer, "join").await;
    let mut ann = server.user("ann").await;
    ann.ok(
        "subscribe",
        json!({"channel": "room:2", "state": {"page": 5}}),
    )
    .await;
    assert_eq!(
        push_named(&mut observer, "join").await["member"]["state"],
        json!({"page": 5})
    );
    ann.ok(
        "presence_update",
        json!({"channel": "room:2", "state": {"page": 6, "status": "away"}}),
    )
    .await;
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(
        update["member"],
        json!({"user": "ann", "state": {"page": 6, "status": "away"}})
    );
    assert!(
        observer.no_push_within(Duration::from_millis(300)).await,
        "one update, pushed once"
    );
    let members = observer.ok("presence", json!({"channel": "room:2"})).await;
    assert_eq!(members["members"][0]["state"]["page"], 6);
    // A second tab subscribing with a state replaces it, and says so.
    let mut tab = server.user("ann").await;
    tab.ok(
        "subscribe",
        json!({"channel": "room:2", "state": {"page": 9}}),
    )
    .await;
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(update["member"]["state"], json!({"page": 9}));

    let big = json!({"pad": "x".repeat(300)});
    assert_eq!(
        ann.error_code(
            "presence_update",
            json!({"channel": "room:2", "state": big})
        )
        .await,
        413
    );
    assert_eq!(
        ann.error_code(
            "presence_update",
            json!({"channel": "room:2", "state": [1]})
        )
        .await,
        400
    );
    assert_eq!(
        ann.error_code("presence_update", json!({"channel": "room:3", "state": {}}))
            .await,
        403
    );
    assert_eq!(
        ann.error_code("presence", json!({"channel": "chat:x"}))
            .await,
        403
    );
    assert_eq!(
        ann.error_code("subscribe", json!({"channel": "chat:x", "state": {}}))
            .await,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn presence_pages_past_the_limit() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for user in ["a", "b", "c", "d", "e"] {
        let mut client = server.user(user).await;
        client.ok("subscribe", json!({"channel": "room:p"})).await;
        clients.push(client);
    }
    let first = clients[0]
        .ok("presence", json!({"channel": "room:p", "limit": 2}))
        .await;
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    assert_eq!(first["next"], "b");
    let second = clients[0]
        .ok(
            "presence",
            json!({"channel": "room:p", "limit": 2, "cursor": "b"}),
        )
        .await;
    assert_eq!(second["members"][0]["user"], "c");
    let (status, page) = server
        .api(Method::GET, "/api/v1/presence?channel=room:p&limit=3", None)
        .await;
    assert_eq!((status, page["next"].as_str()), (200, Some("c")));
    let (_, stats) = server
        .api(Method::GET, "/api/v1/presence/stats?channel=room:p", None)
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 5, "num_connections": 5, "num_anonymous": 0})
    );
    let (status, _) = server
        .api(Method::GET, "/api/v1/presence/stats?channel=chat:x", None)
        .await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn anonymous_viewers_are_counted_but_not_listed() {
    let server = TestServer::start().await;
    let mut viewers = Vec::new();
    for _ in 0..3 {
        let mut viewer = Client::open(&server.ws_url()).await;
        viewer.ok("connect", json!({})).await;
        viewer
            .ok("subscribe", json!({"channel": "stream:match"}))
            .await;
        viewers.push(viewer);
    }
    let mut fan = server.user("fan").await;
    fan.ok("subscribe", json!({"channel": "stream:match"}))
        .await;
    let stats = fan
        .ok("presence_stats", json!({"channel": "stream:match"}))
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 1, "num_connections": 1, "num_anonymous": 3})
    );
    let members = viewers[0]
        .ok("presence", json!({"channel": "stream:match"}))
        .await;
    let listed: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["user"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["fan"]);
    assert!(members.get("anonymous").is_none(), "{members}");
    drop(viewers.pop());
    let deadline = std::time::Instant::now() + common::WAIT;
    while fan
        .ok("presence_stats", json!({"channel": "stream:match"}))
        .await["num_anonymous"]
        != 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed viewer is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn heartbeat_viewers_count_until_stale_after() {
    let server = TestServer::start().await;
    let mut fan = server.user("fan").await;
    fan.ok("subscribe", json!({"channel": "stream:game"})).await;
    push_named(&mut fan, "join").await;
    let url = server.url("/api/v1/presence/heartbeat");
    let beat = |session: &'static str, token: Option<String>| {
        let url = url.clone();
        async move {
            let mut request = reqwest::Client::new()
                .post(&url)
                .json(&json!({"channel": "stream:game", "session_id": session}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = beat("tv-1", None).await;
    assert_eq!((status, body["expires_in_ms"].as_u64()), (200, Some(600)));
    let (status, _) = beat("phone", Some(server.token("zed"))).await;
    assert_eq!(status, 200);
    assert_eq!(push_named(&mut fan, "join").await["member"]["user"], "zed");
    let stats = fan
        .ok("presence_stats", json!({"channel": "stream:game"}))
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 2, "num_connections": 2, "num_anonymous": 1})
    );
    // Heartbeats keep the anonymous viewer; the user stops sending and goes.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(beat("tv-1", None).await.0, 200);
    }
    let leave = push_named(&mut fan, "leave").await;
    assert_eq!(leave["user"], "zed");
    let stats = fan
        .ok("presence_stats", json!({"channel": "stream:game"}))
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 1, "num_connections": 1, "num_anonymous": 1})
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let stats = fan
        .ok("presence_stats", json!({"channel": "stream:game"}))
        .await;
    assert_eq!(stats["num_anonymous"], 0);

    // Refusals: a bad token, a namespace without presence, a bad session id.
    assert_eq!(beat("x", Some("nonsense".into())).await.0, 401);
    let (status, _) = api_call(
        &url,
        Method::POST,
        None,
        Some(json!({"channel": "chat:x", "session_id": "a"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = api_call(
        &url,
        Method::POST,
        None,
        Some(json!({"channel": "room:x", "session_id": "a"})),
    )
    .await;
    assert_eq!(status, 403, "room needs a user token");
    let (status, _) = api_call(
        &url,
        Method::POST,
        None,
        Some(json!({"channel": "stream:game", "session_id": ""})),
    )
    .await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_leaves_within_the_presence_ttl() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = Duration::from_millis(200);
        config.pong_timeout = Duration::from_secs(30);
        for namespace in config.apps[0].namespaces.values_mut() {
            namespace.presence_ttl = Duration::from_secs(2);
        }
    })
    .await;
    let mut observer = server.user("obs").await;
    observer
        .ok("subscribe", json!({"channel": "room:frozen"}))
        .await;
    push_named(&mut observer, "join").await;

    // A real process holding a socket, then frozen with SIGSTOP.
    let mut child = Command::new("python3")
        .arg(common::fixture("ws_client.py"))
        .args([
            "127.0.0.1",
            &server.addr.port().to_string(),
            &server.token("frozen"),
            "room:frozen",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read off the runtime's thread: the server runs on it too.
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let ready = tokio::time::timeout(common::WAIT, ready)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    assert_eq!(
        push_named(&mut observer, "join").await["member"]["user"],
        "frozen"
    );
    // Alive for longer than the TTL: it answers pings (every 200 ms), so
    // its lease is renewed; a loaded machine may delay an answer, not ten.
    assert!(
        observer.no_push_within(Duration::from_secs(3)).await,
        "no leave while alive"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = std::time::Instant::now();
    // The observer itself reads only now and then, so its own lease may
    // lapse and come back meanwhile; wait for the frozen user's leave.
    while push_named(&mut observer, "leave").await["user"] != "frozen" {}
    // Within the TTL (2 s), the renewal period (a ping interval) and one
    // sweep, with room for a loaded machine; far below the pong timeout
    // (30 s), so the lease expired while the socket was still open.
    assert!(
        stopped.elapsed() < Duration::from_secs(8),
        "left after {:?}",
        stopped.elapsed()
    );
    let _ = Command::new("kill").args(["-KILL", &pid]).status();
    let _ = child.wait();
    server.stop().await;
}

#[tokio::test]
async fn typers_are_pushed_as_a_full_list_and_expire() {
    let server = TestServer::start().await;
    let token = token_with(SECRET, "ann", |claims| claims.name = Some("Ann".into()));
    let mut ann = Client::open(&server.ws_url()).await;
    ann.ok("connect", json!({"token": token})).await;
    let mut bob = server.user("bob").await;
    ann.ok("subscribe", json!({"channel": "room:t"})).await;
    bob.ok("subscribe", json!({"channel": "room:t"})).await;

    assert_eq!(
        ann.ok("typing", json!({"channel": "room:t", "active": true}))
            .await,
        json!({})
    );
    let typing = push_named(&mut bob, "typing").await;
    assert_eq!(typing["users"], json!([{"user": "ann", "name": "Ann"}]));
    assert_eq!(
        ann.ok("typing", json!({"channel": "room:t", "active": true}))
            .await["throttled"],
        true
    );
    bob.ok("typing", json!({"channel": "room:t", "active": true}))
        .await;
    assert_eq!(
        push_named(&mut bob, "typing").await["users"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    bob.ok("typing", json!({"channel": "room:t", "active": false}))
        .await;
    assert_eq!(
        push_named(&mut bob, "typing").await["users"],
        json!([{"user": "ann", "name": "Ann"}])
    );
    // Ann sends nothing more: she expires after typing_timeout (500 ms).
    let expired = push_named(&mut bob, "typing").await;
    assert_eq!(expired["users"], json!([]));

    assert_eq!(
        ann.error_code("typing", json!({"channel": "chat:x", "active": true}))
            .await,
        403
    );
    assert_eq!(
        ann.error_code("typing", json!({"channel": "room:other", "active": true}))
            .await,
        403
    );
    server.stop().await;
}

#[tokio::test]
async fn user_status_goes_online_away_offline_with_last_seen() {
    let server = TestServer::start().await;
    let mut friend = server.user("friend").await;
    friend
        .ok("subscribe", json!({"channel": "status:42"}))
        .await;
    let statuses = friend.ok("user_status", json!({"users": ["42"]})).await;
    assert_eq!(
        statuses["users"],
        json!([{"user": "42", "status": "offline"}])
    );

    let mut user = server.user("42").await;
    let online = push_named(&mut friend, "user_status").await;
    assert_eq!(
        (online["user"].as_str(), online["status"].as_str()),
        (Some("42"), Some("online"))
    );
    let mut second_tab = server.user("42").await;
    assert_eq!(
        user.ok("status_update", json!({"status": "away"})).await["status"],
        "away"
    );
    assert_eq!(
        push_named(&mut friend, "user_status").await["status"],
        "away"
    );
    let (status, body) = server
        .api(Method::GET, "/api/v1/users/42/status", None)
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("away")));
    assert_eq!(
        user.error_code("status_update", json!({"status": "busy"}))
            .await,
        400
    );

    drop(second_tab.socket.close(None).await);
    drop(user.socket.close(None).await);
    let offline = push_named(&mut friend, "user_status").await;
    assert_eq!(offline["status"], "offline");
    let last_seen = offline["last_seen"].as_u64().unwrap();
    assert!(last_seen >= parley_server::auth::unix_now() - 5);
    let statuses = friend
        .ok("user_status", json!({"users": ["42", "nobody"]}))
        .await;
    assert_eq!(
        statuses["users"][0],
        json!({"user": "42", "status": "offline", "last_seen": last_seen})
    );
    server.stop().await;
}

/// The users a push names as gone: a `leave`'s user, a `presence_diff`'s
/// leaves.
fn leaves_of(push: &Value) -> Vec<String> {
    match push["push"].as_str() {
        Some("leave") => vec![push["user"].as_str().unwrap().to_owned()],
        Some("presence_diff") => push["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user.as_str().unwrap().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_user_who_comes_and_goes_within_a_batch_window_is_still_reported_gone() {
    // A subscriber that read the member list while Cid was there (as every
    // client keeping a member set does after its subscribe) must learn
    // that Cid left, even when the join and the leave fall in one window.
    let server = TestServer::start().await;
    let mut observer = server.user("obs").await;
    observer
        .ok("subscribe", json!({"channel": "room:window"}))
        .await;
    push_named(&mut observer, "join").await;
    // Bo's join goes out at once and opens a window of `presence_batch`.
    let mut bo = server.user("bo").await;
    bo.ok("subscribe", json!({"channel": "room:window"})).await;
    let mut cid = server.user("cid").await;
    cid.ok("subscribe", json!({"channel": "room:window"})).await;
    let listed = observer
        .ok("presence", json!({"channel": "room:window"}))
        .await;
    let users: Vec<&str> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["user"].as_str().unwrap())
        .collect();
    assert!(users.contains(&"cid"), "the list names cid: {listed}");
    cid.ok("unsubscribe", json!({"channel": "room:window"}))
        .await;
    loop {
        let push = observer.push().await;
        if leaves_of(&push).iter().any(|user| user == "cid") {
            break;
        }
    }
    server.stop().await;
}

/// The connections a presence page lists for `user`.
fn connections_of<'a>(page: &'a Value, user: &str) -> &'a Vec<Value> {
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["user"] == user)
        .unwrap_or_else(|| panic!("{user} is not listed: {page}"))["connections"]
        .as_array()
        .unwrap()
}

#[tokio::test]
async fn two_devices_of_one_user_are_one_member_with_two_connections_and_their_own_state() {
    let server = TestServer::start().await;
    let mut observer = server.user("obs").await;
    observer.ok("subscribe", json!({"channel": "room:3"})).await;
    push_named(&mut observer, "join").await;
    let mut phone = server.user("ann").await;
    phone
        .ok(
            "subscribe",
            json!({"channel": "room:3", "state": {"device": "phone"}}),
        )
        .await;
    assert_eq!(
        push_named(&mut observer, "join").await["member"]["user"],
        "ann"
    );
    let mut tv = server.user("ann").await;
    tv.ok(
        "subscribe",
        json!({"channel": "room:3", "state": {"device": "tv", "quality": "4k"}}),
    )
    .await;
    // The second device's state is the member's merged state now.
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(update["member"]["state"]["device"], "tv");

    let page = observer.ok("presence", json!({"channel": "room:3"})).await;
    assert_eq!(page["members"].as_array().unwrap().len(), 2, "{page}");
    let ann = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["user"] == "ann")
        .unwrap();
    assert_eq!(ann["state"], json!({"device": "tv", "quality": "4k"}));
    let connections = connections_of(&page, "ann");
    assert_eq!(connections.len(), 2, "{page}");
    assert_eq!(connections[0]["state"], json!({"device": "phone"}));
    assert_eq!(
        connections[1]["state"],
        json!({"device": "tv", "quality": "4k"})
    );
    let joined_at = ann["joined_at"].as_u64().unwrap();
    assert!(joined_at > 1_700_000_000_000, "{ann}");
    assert_eq!(joined_at, connections[0]["joined_at"].as_u64().unwrap());
    for connection in connections {
        assert!(connection["last_seen"].as_u64() >= connection["joined_at"].as_u64());
    }
    let stats = observer
        .ok("presence_stats", json!({"channel": "room:3"}))
        .await;
    assert_eq!(
        stats,
        json!({"num_users": 2, "num_connections": 3, "num_anonymous": 0})
    );

    // An update replaces its own connection's state, not the other one's.
    phone
        .ok(
            "presence_update",
            json!({"channel": "room:3", "state": {"device": "phone", "quality": "sd"}}),
        )
        .await;
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(update["member"]["state"]["quality"], "sd");
    let page = observer.ok("presence", json!({"channel": "room:3"})).await;
    let connections = connections_of(&page, "ann");
    assert_eq!(
        connections[0]["state"],
        json!({"device": "phone", "quality": "sd"})
    );
    assert_eq!(
        connections[1]["state"],
        json!({"device": "tv", "quality": "4k"})
    );

    // Closing the phone leaves the TV, and no leave.
    drop(phone);
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let page = observer.ok("presence", json!({"channel": "room:3"})).await;
        if connections_of(&page, "ann").len() == 1 {
            assert_eq!(connections_of(&page, "ann")[0]["state"]["device"], "tv");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        observer
            .pushes_within(Duration::from_millis(200))
            .await
            .iter()
            .all(|push| push["push"] != "leave"),
        "one device left, the member stays"
    );
    drop(tv);
    server.stop().await;
}

#[tokio::test]
async fn anonymous_and_heartbeat_state_is_listed_to_the_backend_only() {
    let server = TestServer::start().await;
    let mut fan = server.user("fan").await;
    fan.ok("subscribe", json!({"channel": "stream:cup"})).await;
    push_named(&mut fan, "join").await;
    let mut viewer = Client::open(&server.ws_url()).await;
    viewer.ok("connect", json!({})).await;
    viewer
        .ok(
            "subscribe",
            json!({"channel": "stream:cup", "state": {"device": "web"}}),
        )
        .await;
    let beat = |body: Value, token: Option<String>| {
        let url = server.url("/api/v1/presence/heartbeat");
        async move {
            let mut request = reqwest::Client::new().post(&url).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = beat(
        json!({"channel": "stream:cup", "session_id": "tv-1", "state": {"device": "tv"}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = beat(
        json!({"channel": "stream:cup", "session_id": "p", "state": {"device": "console"}}),
        Some(server.token("zed")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        push_named(&mut fan, "join").await["member"]["state"]["device"],
        "console"
    );

    // The anonymous viewer's own update is kept and pushed to nobody.
    viewer
        .ok(
            "presence_update",
            json!({"channel": "stream:cup", "state": {"device": "web", "quality": "hd"}}),
        )
        .await;
    assert!(
        fan.pushes_within(Duration::from_millis(200))
            .await
            .iter()
            .all(|push| push["push"] != "presence_update"),
        "anonymous viewers are not members"
    );

    // Clients see members only; the backend, asking, sees anonymous state.
    let page = fan.ok("presence", json!({"channel": "stream:cup"})).await;
    assert!(page.get("anonymous").is_none(), "{page}");
    assert_eq!(
        connections_of(&page, "zed")[0]["state"],
        json!({"device": "console"})
    );
    let (status, backend) = api_call(
        &server.url("/api/v1/presence?channel=stream:cup&anonymous=true"),
        Method::GET,
        Some(common::API_KEY),
        None,
    )
    .await;
    assert_eq!(status, 200, "{backend}");
    let mut states: Vec<Value> = backend["anonymous"]
        .as_array()
        .unwrap()
        .iter()
        .map(|connection| {
            assert!(connection["joined_at"].as_u64().unwrap() > 0);
            connection["state"].clone()
        })
        .collect();
    states.sort_by_key(|state| state["device"].as_str().unwrap().to_owned());
    assert_eq!(
        states,
        [
            json!({"device": "tv"}),
            json!({"device": "web", "quality": "hd"})
        ]
    );
    let (_, without) = api_call(
        &server.url("/api/v1/presence?channel=stream:cup"),
        Method::GET,
        Some(common::API_KEY),
        None,
    )
    .await;
    assert!(without.get("anonymous").is_none(), "{without}");

    // A heartbeat's state is checked as a subscribe's.
    let (status, _) = beat(
        json!({"channel": "stream:cup", "session_id": "x", "state": [1]}),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = beat(
        json!({"channel": "stream:cup", "session_id": "x", "state": {"pad": "x".repeat(5000)}}),
        None,
    )
    .await;
    assert_eq!(status, 413);
    server.stop().await;
}
