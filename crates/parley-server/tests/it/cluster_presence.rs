//! Presence, typing and user status across the nodes of a cluster, on the
//! real Redis: members on different nodes see each other, every node
//! answers the same list and counts, a user's tabs on two nodes are one
//! member, and a node killed with its users present loses them within the
//! lease ttl.

use crate::common;

use std::time::Duration;

use common::cluster::{REDIS, eventually, node, three_nodes, unique_prefix};
use common::pusher::Pusher;
use common::{Client, SECRET, TestServer, member_users, presence_events, push_named, token_with};
use parley_server::config::{BrokerKind, NamespaceConfig};
use reqwest::Method;
use serde_json::{Value, json};

/// A little longer than a batch window, a relay and a sweep.
const QUIET: Duration = Duration::from_millis(600);

async fn http_presence(server: &TestServer, channel: &str) -> Value {
    let (status, page) = server
        .api(
            Method::GET,
            &format!("/api/v1/presence?channel={channel}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page
}

async fn http_stats(server: &TestServer, channel: &str) -> Value {
    let (status, stats) = server
        .api(
            Method::GET,
            &format!("/api/v1/presence/stats?channel={channel}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    stats
}

#[tokio::test]
async fn members_on_two_nodes_see_each_others_join_and_leave_and_three_nodes_agree() {
    let prefix = unique_prefix();
    let (a, b, c) = three_nodes(&prefix).await;
    let mut ann = a.user("ann").await;
    ann.ok("subscribe", json!({"channel": "room:x"})).await;
    assert_eq!(push_named(&mut ann, "join").await["member"]["user"], "ann");

    let mut bob = b.user("bob").await;
    bob.ok("subscribe", json!({"channel": "room:x"})).await;
    let joined = push_named(&mut ann, "join").await;
    assert_eq!(
        (
            joined["channel"].as_str(),
            joined["member"]["user"].as_str()
        ),
        (Some("room:x"), Some("bob")),
        "a join on B reaches A"
    );
    let listed = bob.ok("presence", json!({"channel": "room:x"})).await;
    assert_eq!(member_users(&listed), ["ann", "bob"], "B lists A's member");

    for server in [&a, &b, &c] {
        assert_eq!(
            member_users(&http_presence(server, "room:x").await),
            ["ann", "bob"]
        );
        assert_eq!(
            http_stats(server, "room:x").await,
            json!({"num_users": 2, "num_connections": 2, "num_anonymous": 0})
        );
    }

    bob.ok("unsubscribe", json!({"channel": "room:x"})).await;
    let left = push_named(&mut ann, "leave").await;
    assert_eq!(left["user"], "bob", "a leave on B reaches A");
    drop(ann);
    for server in [&a, &b, &c] {
        eventually("every node sees the channel empty", || async {
            http_stats(server, "room:x").await["num_users"] == 0
        })
        .await;
    }
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn two_tabs_on_two_nodes_are_one_member_and_only_the_last_close_is_a_leave() {
    let prefix = unique_prefix();
    let (a, b, c) = three_nodes(&prefix).await;
    let mut observer = c.user("obs").await;
    observer
        .ok("subscribe", json!({"channel": "room:tabs"}))
        .await;
    push_named(&mut observer, "join").await;

    let token = token_with(SECRET, "ann", |claims| claims.name = Some("Ann".into()));
    let mut tabs = Vec::new();
    for server in [&a, &b] {
        let mut tab = Client::open(&server.ws_url()).await;
        tab.ok("connect", json!({"token": token})).await;
        tab.ok("subscribe", json!({"channel": "room:tabs"})).await;
        tabs.push(tab);
        if tabs.len() == 1 {
            // The first tab's join is out before the second tab comes, so
            // a second join could not hide in the same batch.
            assert_eq!(
                push_named(&mut observer, "join").await["member"]["user"],
                "ann"
            );
        }
    }
    let mut pushes = observer.pushes_within(QUIET).await;
    assert_eq!(
        presence_events(&pushes, "room:tabs", "ann"),
        (0, 0),
        "the second tab, on another node, is no join: {pushes:?}"
    );
    for server in [&a, &b, &c] {
        assert_eq!(
            http_stats(server, "room:tabs").await,
            json!({"num_users": 2, "num_connections": 3, "num_anonymous": 0})
        );
    }

    // Closing the tab on B: Ann is still on A.
    let mut closed = tabs.pop().unwrap();
    closed.socket.close(None).await.unwrap();
    eventually("B's lease is gone", || async {
        http_stats(&c, "room:tabs").await["num_connections"] == 2
    })
    .await;
    pushes.extend(observer.pushes_within(QUIET).await);
    assert_eq!(
        presence_events(&pushes, "room:tabs", "ann"),
        (0, 0),
        "closing one tab is no leave: {pushes:?}"
    );

    let mut last = tabs.pop().unwrap();
    last.socket.close(None).await.unwrap();
    let left = push_named(&mut observer, "leave").await;
    assert_eq!(left["user"], "ann");
    let pushes = observer.pushes_within(QUIET).await;
    assert_eq!(
        presence_events(&pushes, "room:tabs", "ann"),
        (0, 0),
        "one leave: {pushes:?}"
    );
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn each_connection_keeps_its_state_and_updates_reach_every_node() {
    let prefix = unique_prefix();
    let (a, b) = (node(&prefix, REDIS).await, node(&prefix, REDIS).await);
    let mut observer = b.user("obs").await;
    observer
        .ok("subscribe", json!({"channel": "room:state"}))
        .await;
    push_named(&mut observer, "join").await;

    let mut phone = a.user("ann").await;
    phone
        .ok(
            "subscribe",
            json!({"channel": "room:state", "state": {"device": "phone"}}),
        )
        .await;
    let joined = push_named(&mut observer, "join").await;
    assert_eq!(joined["member"]["state"], json!({"device": "phone"}));
    let mut tv = b.user("ann").await;
    tv.ok(
        "subscribe",
        json!({"channel": "room:state", "state": {"device": "tv"}}),
    )
    .await;
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(update["member"]["state"], json!({"device": "tv"}));

    phone
        .ok(
            "presence_update",
            json!({"channel": "room:state", "state": {"device": "phone", "page": 2}}),
        )
        .await;
    let update = push_named(&mut observer, "presence_update").await;
    assert_eq!(
        update["member"]["state"],
        json!({"device": "phone", "page": 2}),
        "an update on A reaches B"
    );
    let page = observer
        .ok("presence", json!({"channel": "room:state"}))
        .await;
    let ann = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["user"] == "ann")
        .unwrap_or_else(|| panic!("ann is not listed: {page}"));
    let states: Vec<&Value> = ann["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|connection| &connection["state"])
        .collect();
    assert_eq!(
        states,
        [
            &json!({"device": "phone", "page": 2}),
            &json!({"device": "tv"})
        ],
        "each connection's own state, oldest first: {page}"
    );
    drop((phone, tv));
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn anonymous_and_heartbeat_viewers_are_counted_on_every_node() {
    let prefix = unique_prefix();
    let (a, b, c) = three_nodes(&prefix).await;
    let mut viewer = Client::open(&a.ws_url()).await;
    viewer.ok("connect", json!({})).await;
    viewer
        .ok("subscribe", json!({"channel": "stream:match"}))
        .await;
    let beat = || async {
        let response = reqwest::Client::new()
            .post(b.url("/api/v1/presence/heartbeat"))
            .json(&json!({"channel": "stream:match", "session_id": "tv-1"}))
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    };
    assert_eq!(beat().await, 200);
    let mut fan = c.user("fan").await;
    fan.ok("subscribe", json!({"channel": "stream:match"}))
        .await;
    for server in [&a, &b, &c] {
        assert_eq!(
            http_stats(server, "stream:match").await,
            json!({"num_users": 1, "num_connections": 1, "num_anonymous": 2})
        );
    }
    // The heartbeat session stops; it leaves after stale_after, on every node.
    drop(viewer);
    for server in [&a, &b, &c] {
        eventually(
            "the closed viewer and the stale session are gone",
            || async { http_stats(server, "stream:match").await["num_anonymous"] == 0 },
        )
        .await;
    }
    drop(fan);
    for server in [a, b, c] {
        server.stop().await;
    }
}

/// A node of the deployment under `prefix` whose `arena` namespace pushes
/// live counts every 300 ms.
async fn arena_node(prefix: &str) -> TestServer {
    TestServer::start_with(|config| {
        config.cluster.broker = BrokerKind::Redis;
        config.cluster.prefix = prefix.to_owned();
        config.cluster.redis_url = REDIS.to_owned();
        config.cluster.redis_timeout = Duration::from_secs(1);
        for app in &mut config.apps {
            app.namespaces.retain(|_, namespace| !namespace.persist);
        }
        config.apps[0].namespaces.insert(
            "arena".to_owned(),
            NamespaceConfig {
                presence: true,
                anonymous: true,
                presence_stats_interval: Some(Duration::from_millis(300)),
                ..NamespaceConfig::default()
            },
        );
    })
    .await
}

#[tokio::test]
async fn live_counts_are_pushed_on_a_node_whose_viewers_are_elsewhere() {
    let prefix = unique_prefix();
    let (a, b) = (arena_node(&prefix).await, arena_node(&prefix).await);
    let mut fan = a.user("fan").await;
    fan.ok("subscribe", json!({"channel": "arena:final"})).await;
    let mut viewers = Vec::new();
    for _ in 0..3 {
        let mut viewer = Client::open(&b.ws_url()).await;
        viewer.ok("connect", json!({})).await;
        viewer
            .ok("subscribe", json!({"channel": "arena:final"}))
            .await;
        viewers.push(viewer);
    }
    loop {
        let stats = push_named(&mut fan, "presence_stats").await;
        if stats["num_anonymous"] == 3 {
            assert_eq!(
                (
                    stats["num_users"].as_u64(),
                    stats["num_connections"].as_u64()
                ),
                (Some(1), Some(1))
            );
            break;
        }
    }
    viewers.clear();
    loop {
        if push_named(&mut fan, "presence_stats").await["num_anonymous"] == 0 {
            break;
        }
    }
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn typing_on_one_node_reaches_another_and_expires_there() {
    let prefix = unique_prefix();
    let (a, b) = (node(&prefix, REDIS).await, node(&prefix, REDIS).await);
    let token = token_with(SECRET, "ann", |claims| claims.name = Some("Ann".into()));
    let mut ann = Client::open(&a.ws_url()).await;
    ann.ok("connect", json!({"token": token})).await;
    ann.ok("subscribe", json!({"channel": "room:ty"})).await;
    let mut bob = b.user("bob").await;
    bob.ok("subscribe", json!({"channel": "room:ty"})).await;

    ann.ok("typing", json!({"channel": "room:ty", "active": true}))
        .await;
    let typing = push_named(&mut bob, "typing").await;
    assert_eq!(typing["users"], json!([{"user": "ann", "name": "Ann"}]));
    ann.ok("typing", json!({"channel": "room:ty", "active": false}))
        .await;
    assert_eq!(push_named(&mut bob, "typing").await["users"], json!([]));

    // Ann types and says nothing more: her node expires her after
    // typing_timeout (500 ms) and B hears of it.
    ann.ok("typing", json!({"channel": "room:ty", "active": true}))
        .await;
    assert_eq!(
        push_named(&mut bob, "typing").await["users"],
        json!([{"user": "ann", "name": "Ann"}])
    );
    assert_eq!(push_named(&mut bob, "typing").await["users"], json!([]));
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn user_status_is_answered_and_pushed_on_every_node() {
    let prefix = unique_prefix();
    let (a, b, c) = three_nodes(&prefix).await;
    let mut friend = b.user("friend").await;
    friend
        .ok("subscribe", json!({"channel": "status:42"}))
        .await;
    assert_eq!(
        friend.ok("user_status", json!({"users": ["42"]})).await["users"],
        json!([{"user": "42", "status": "offline"}])
    );

    let mut user = a.user("42").await;
    let online = push_named(&mut friend, "user_status").await;
    assert_eq!(
        (online["user"].as_str(), online["status"].as_str()),
        (Some("42"), Some("online")),
        "A's user comes online on B"
    );
    assert_eq!(
        friend.ok("user_status", json!({"users": ["42"]})).await["users"][0]["status"],
        "online",
        "B answers for a user on A"
    );
    let (status, body) = c.api(Method::GET, "/api/v1/users/42/status", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("online")));

    // A second tab on C: still one online user; away is for the user.
    let mut tab = c.user("42").await;
    assert_eq!(
        tab.ok("status_update", json!({"status": "away"})).await["status"],
        "away"
    );
    assert_eq!(
        push_named(&mut friend, "user_status").await["status"],
        "away"
    );
    user.socket.close(None).await.unwrap();
    assert!(
        friend.no_push_within(QUIET).await,
        "closing one of two nodes' connections changes nothing"
    );
    tab.socket.close(None).await.unwrap();
    let offline = push_named(&mut friend, "user_status").await;
    assert_eq!(offline["status"], "offline");
    let last_seen = offline["last_seen"].as_u64().unwrap();
    let (_, body) = a.api(Method::GET, "/api/v1/users/42/status", None).await;
    assert_eq!(
        body,
        json!({"user": "42", "status": "offline", "last_seen": last_seen})
    );
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_pusher_presence_channel_spans_nodes() {
    let prefix = unique_prefix();
    let (a, b) = (node(&prefix, REDIS).await, node(&prefix, REDIS).await);
    let channel = "presence-span";
    let mut ann = Pusher::open(&a).await;
    ann.subscribe_presence_with_info(channel, "ann", json!({"name": "Ann"}))
        .await;
    let mut bob = Pusher::open(&b).await;
    let data = bob
        .subscribe_presence_with_info(channel, "bob", json!({}))
        .await;
    assert_eq!(
        data,
        json!({"presence": {"ids": ["ann", "bob"],
                            "hash": {"ann": {"name": "Ann"}, "bob": {}}, "count": 2}}),
        "subscription_succeeded lists the members of every node"
    );
    let (event, _, data) = ann.event().await;
    assert_eq!(event, "pusher_internal:member_added");
    assert_eq!(data, json!({"user_id": "bob", "user_info": {}}));

    bob.send(json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}))
        .await;
    let (event, _, data) = ann.event().await;
    assert_eq!(event, "pusher_internal:member_removed");
    assert_eq!(data, json!({"user_id": "bob"}));
    for server in [a, b] {
        server.stop().await;
    }
}

/// A node of the deployment under `prefix` sending its webhooks to `url`.
async fn hooked_node(prefix: &str, url: &str) -> TestServer {
    TestServer::start_with(|config| {
        config.cluster.broker = BrokerKind::Redis;
        config.cluster.prefix = prefix.to_owned();
        config.cluster.redis_url = REDIS.to_owned();
        config.cluster.redis_timeout = Duration::from_secs(1);
        for app in &mut config.apps {
            app.namespaces.retain(|_, namespace| !namespace.persist);
        }
        let app = &mut config.apps[0];
        app.webhooks.urls = vec![url.to_owned()];
        app.webhooks.batch_window = Duration::from_millis(50);
        app.webhooks.hold_back = Duration::ZERO;
    })
    .await
}

/// A webhook receiver on 127.0.0.1:0: every event of every body it gets.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (sender, events) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sender = sender.clone();
            async move {
                for event in body["events"].as_array().into_iter().flatten() {
                    let _ = sender.send(event.clone());
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, events)
}

#[tokio::test]
async fn member_webhooks_fire_once_for_the_deployment() {
    let prefix = unique_prefix();
    let (url, mut events) = receiver().await;
    let (a, b) = (
        hooked_node(&prefix, &url).await,
        hooked_node(&prefix, &url).await,
    );
    let channel = "presence-hooks";
    let mut ann = Pusher::open(&a).await;
    ann.subscribe_presence(channel, "ann").await;
    let mut bob = Pusher::open(&b).await;
    bob.subscribe_presence(channel, "bob").await;
    ann.event().await;
    bob.send(json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}))
        .await;
    ann.event().await;

    // Every member event, until a quiet second and a half after the last:
    // each node delivers its own queue within its batch window.
    let mut members = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(1500), events.recv()).await
    {
        if event["name"] != "channel_occupied" && event["name"] != "channel_vacated" {
            members.push(event);
        }
    }
    let (added, removed): (Vec<&Value>, Vec<&Value>) = members
        .iter()
        .partition(|event| event["name"] == "member_added");
    let mut added: Vec<&str> = added
        .iter()
        .map(|event| event["user_id"].as_str().unwrap())
        .collect();
    added.sort();
    assert_eq!(added, ["ann", "bob"], "each join once: {members:?}");
    let removed: Vec<&str> = removed
        .iter()
        .map(|event| event["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["bob"], "the leave once: {members:?}");
    drop((ann, bob));
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_killed_nodes_members_leave_on_the_other_nodes_within_the_lease_ttl_and_go_offline() {
    let prefix = unique_prefix();
    let (a, b) = (node(&prefix, REDIS).await, node(&prefix, REDIS).await);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parley.toml"),
        format!(
            "ping_interval = \"500ms\"\n\
             [cluster]\nbroker = \"redis\"\nredis_url = \"{REDIS}\"\nprefix = \"{prefix}\"\n\
             node_ttl = \"1s\"\n\
             [[apps]]\nid = \"main\"\n\
             [apps.namespaces.room]\npresence = true\npresence_ttl = \"2s\"\n"
        ),
    )
    .unwrap();
    let mut doomed = crate::durability::spawn(dir.path(), None).await;

    let mut observer = a.user("obs").await;
    observer
        .ok("subscribe", json!({"channel": "room:doomed"}))
        .await;
    push_named(&mut observer, "join").await;
    let mut friend = b.user("friend").await;
    friend
        .ok("subscribe", json!({"channel": "status:zed"}))
        .await;
    let mut zed = doomed.user("zed").await;
    zed.ok("subscribe", json!({"channel": "room:doomed"})).await;
    let joined = push_named(&mut observer, "join").await;
    assert_eq!(joined["member"]["user"], "zed", "the other process's join");
    assert_eq!(
        member_users(&http_presence(&b, "room:doomed").await),
        ["obs", "zed"]
    );
    assert_eq!(
        push_named(&mut friend, "user_status").await["status"],
        "online"
    );

    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    let left = push_named(&mut observer, "leave").await;
    assert_eq!(left["user"], "zed", "the dead node's user leaves");
    let pushes = observer.pushes_within(QUIET).await;
    assert_eq!(
        presence_events(&pushes, "room:doomed", "zed"),
        (0, 0),
        "reported once: {pushes:?}"
    );
    assert_eq!(
        member_users(&http_presence(&b, "room:doomed").await),
        ["obs"]
    );
    // Once the dead node left the registry (node_ttl, 1 s), a sweep takes
    // its user offline, pushed on every node.
    let offline = push_named(&mut friend, "user_status").await;
    assert_eq!(
        (offline["user"].as_str(), offline["status"].as_str()),
        (Some("zed"), Some("offline"))
    );
    assert!(offline["last_seen"].as_u64().is_some(), "{offline}");
    drop(zed);
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_node_restarted_under_its_name_forgets_the_users_its_earlier_run_held() {
    let prefix = unique_prefix();
    let a = node(&prefix, REDIS).await;
    let dir = tempfile::tempdir().unwrap();
    // A fixed name and a registry entry that outlives the restart: the
    // dead run's users are not swept as a dead node's.
    std::fs::write(
        dir.path().join("parley.toml"),
        format!(
            "[cluster]\nbroker = \"redis\"\nredis_url = \"{REDIS}\"\nprefix = \"{prefix}\"\n\
             node = \"web-1\"\nnode_ttl = \"60s\"\n\
             [[apps]]\nid = \"main\"\n"
        ),
    )
    .unwrap();
    let mut first = crate::durability::spawn(dir.path(), None).await;
    let mut friend = a.user("friend").await;
    friend
        .ok("subscribe", json!({"channel": "status:zed"}))
        .await;
    let zed = first.user("zed").await;
    assert_eq!(
        push_named(&mut friend, "user_status").await["status"],
        "online"
    );
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = crate::durability::spawn(dir.path(), None).await;
    let offline = push_named(&mut friend, "user_status").await;
    assert_eq!(
        (offline["user"].as_str(), offline["status"].as_str()),
        (Some("zed"), Some("offline"))
    );
    let (_, body) = a.api(Method::GET, "/api/v1/users/zed/status", None).await;
    assert_eq!(body["status"], "offline");
    drop((zed, second));
    a.stop().await;
}
