//! Control actions across a Redis cluster: a disconnect, a Pusher
//! `terminate_connections`, a ban, a room member's removal and a block
//! made on one node reach the user's connections on another; the node
//! registry behind `/api/v1/info`; and what a node cut off from Redis does.
//! Each test has a prefix of its own on the Redis at 127.0.0.1:6379, and
//! the tests with persisted namespaces share one PostgreSQL database
//! between their nodes.

use crate::common;

use std::time::Duration;

use common::chat::{moderator, room, rooms};
use common::cluster::{REDIS, eventually, unique_prefix};
use common::pusher::{Pusher, post_signed};
use common::tcp_proxy::TcpProxy;
use common::{TestDatabase, TestServer, push_named};
use parley_server::config::BrokerKind;
use reqwest::Method;
use serde_json::json;

/// A node of the deployment under `prefix` with a one-second registry
/// TTL, and, with `database`, the shared store and the `team` namespace of
/// members-only rooms.
async fn control_node(
    prefix: &str,
    redis_url: &str,
    database: Option<&TestDatabase>,
) -> TestServer {
    TestServer::start_with(|config| {
        config.cluster.broker = BrokerKind::Redis;
        config.cluster.prefix = prefix.to_owned();
        config.cluster.redis_url = redis_url.to_owned();
        config.cluster.redis_timeout = Duration::from_secs(1);
        config.cluster.node_ttl = Duration::from_secs(1);
        config.stream_idle_ttl = Duration::from_secs(60);
        match database {
            Some(database) => {
                config.database_url = Some(database.url());
                config.apps[0].namespaces.insert("team".to_owned(), rooms());
            }
            None => {
                for app in &mut config.apps {
                    app.namespaces.retain(|_, namespace| !namespace.persist);
                }
            }
        }
    })
    .await
}

/// The names of the nodes `/api/v1/info` on `server` lists.
async fn listed_nodes(server: &TestServer) -> Vec<String> {
    let (status, info) = server.api(Method::GET, "/api/v1/info", None).await;
    assert_eq!(status, 200, "{info}");
    info["cluster"]["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|node| node["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_disconnect_on_one_node_closes_the_users_connections_on_another() {
    let prefix = unique_prefix();
    let a = control_node(&prefix, REDIS, None).await;
    let b = control_node(&prefix, REDIS, None).await;
    let mut on_b = b.user("ann").await;
    let mut bystander = b.user("bob").await;

    let (status, reply) = a
        .api(
            Method::POST,
            "/api/v1/disconnect",
            Some(json!({"user": "ann"})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"disconnected": 0, "other_nodes": "notified"}),
        "none on this node; the other nodes were told"
    );
    let (code, reason, _) = on_b.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (4003, "disconnected by the server")
    );
    bystander.ok("subscribe", json!({"channel": "news"})).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn terminate_connections_on_one_node_closes_pusher_and_native_connections_on_another() {
    let prefix = unique_prefix();
    let a = control_node(&prefix, REDIS, None).await;
    let b = control_node(&prefix, REDIS, None).await;
    let mut pusher = Pusher::open(&b).await;
    pusher.sign_in(json!({"id": "ann"})).await;
    let mut native = b.user("ann").await;

    let (status, reply) =
        post_signed(&a, "/apps/main/users/ann/terminate_connections", json!({})).await;
    assert_eq!((status, reply), (200, json!({})));
    let (code, _, texts) = pusher.client.closed().await;
    assert_eq!(code, 4009);
    assert_eq!(texts.last().unwrap()["data"]["code"], 4009);
    let (code, _, _) = native.closed().await;
    assert_eq!(code, 4003);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn bans_made_on_one_node_are_enforced_on_another() {
    let database = TestDatabase::create();
    let prefix = unique_prefix();
    let a = control_node(&prefix, REDIS, Some(&database)).await;
    let b = control_node(&prefix, REDIS, Some(&database)).await;
    let mut ann = b.user("ann").await;
    let mut bob = b.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;

    // In one channel, by a moderator's native `ban` on A: bob leaves the
    // channel on B with the `unsubscribed` push.
    let mut moderator = moderator(&a).await;
    moderator
        .ok("ban", json!({"user": "bob", "channel": "talk:a"}))
        .await;
    let push = push_named(&mut bob, "unsubscribed").await;
    assert_eq!(
        (&push["channel"], &push["reason"]),
        (&json!("talk:a"), &json!("banned"))
    );
    eventually("bob's subscription on B ends", || async {
        let (_, channels) = b
            .api(Method::GET, "/api/v1/channels?prefix=talk:", None)
            .await;
        channels["channels"] == json!([])
    })
    .await;

    // App-wide, through the HTTP route on A: ann's connection on B closes.
    let (status, reply) = a
        .api(
            Method::POST,
            "/api/v1/moderation/ban",
            Some(json!({"user": "ann"})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["other_nodes"], "notified");
    let (code, _, _) = ann.closed().await;
    assert_eq!(code, 4003);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_room_member_removed_on_one_node_stops_receiving_on_another() {
    let database = TestDatabase::create();
    let prefix = unique_prefix();
    let a = control_node(&prefix, REDIS, Some(&database)).await;
    let b = control_node(&prefix, REDIS, Some(&database)).await;
    let mut alice = a.user("alice").await;
    let mut bob = b.user("bob").await;
    let room = room(&mut alice, "team", &["bob"]).await;
    bob.ok("subscribe", json!({"channel": room})).await;

    alice
        .ok(
            "room_remove_members",
            json!({"channel": room, "members": ["bob"]}),
        )
        .await;
    // The room's `member_removed` travels with the channel's publications
    // and the end of the subscription on the control topic: on B either
    // may come first, so the test waits for what is certain, the end.
    eventually("bob's subscription to the room on B ends", || async {
        let (_, channels) = b
            .api(Method::GET, "/api/v1/channels?prefix=team:", None)
            .await;
        channels["channels"] == json!([])
    })
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_block_made_on_one_node_filters_deliveries_on_another() {
    let database = TestDatabase::create();
    let prefix = unique_prefix();
    let a = control_node(&prefix, REDIS, Some(&database)).await;
    let b = control_node(&prefix, REDIS, Some(&database)).await;
    let mut alice = a.user("alice").await;
    let mut carol = a.user("carol").await;
    let mut bob_on_a = a.user("bob").await;
    let mut bob_on_b = b.user("bob").await;
    bob_on_b.ok("subscribe", json!({"channel": "talk:a"})).await;

    assert_eq!(
        bob_on_a.ok("block", json!({"user": "alice"})).await,
        json!({"blocks": ["alice"]})
    );
    let app = b.state.app("main").unwrap().app.clone();
    eventually("B's hub has bob's block list", || {
        let blocks = app.hub.blocks().blocks("bob", "alice");
        async move { blocks }
    })
    .await;
    alice
        .ok(
            "message_send",
            json!({"channel": "talk:a", "text": "blocked"}),
        )
        .await;
    carol
        .ok(
            "message_send",
            json!({"channel": "talk:a", "text": "from carol"}),
        )
        .await;
    let push = push_named(&mut bob_on_b, "message_created").await;
    assert_eq!(
        push["data"]["text"], "from carol",
        "alice's message never reached bob on B"
    );

    bob_on_a.ok("unblock", json!({"user": "alice"})).await;
    eventually("B's hub forgets bob's block", || {
        let blocks = app.hub.blocks().blocks("bob", "alice");
        async move { !blocks }
    })
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn info_lists_every_live_node_and_a_dead_one_ages_out() {
    let prefix = unique_prefix();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = control_node(&prefix, REDIS, None).await;
    let b = control_node(&prefix, &proxy.redis_url(), None).await;
    let _ann = b.user("ann").await;

    let (_, info) = a.api(Method::GET, "/api/v1/info", None).await;
    let a_name = info["cluster"]["node"].as_str().unwrap().to_owned();
    let (_, info) = b.api(Method::GET, "/api/v1/info", None).await;
    let b_name = info["cluster"]["node"].as_str().unwrap().to_owned();
    let mut both = vec![a_name.clone(), b_name.clone()];
    both.sort();
    eventually("both nodes list both, with ann on B", || async {
        let (_, info) = a.api(Method::GET, "/api/v1/info", None).await;
        listed_nodes(&a).await == both
            && listed_nodes(&b).await == both
            && info["cluster"]["connections"] == 1
    })
    .await;
    let (_, info) = a.api(Method::GET, "/api/v1/info", None).await;
    let on_b = info["cluster"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == b_name.as_str())
        .unwrap()
        .clone();
    assert_eq!(on_b["connections"], 1, "{info}");
    assert!(on_b["started_at_ms"].as_u64().unwrap() > 0);
    assert_eq!(info["connections"], 0, "this node's own figures stay");

    // B loses Redis, so it can neither refresh nor remove its entry: it
    // ages out after node_ttl.
    proxy.cut();
    b.stop().await;
    eventually("B ages out of the registry", || async {
        listed_nodes(&a).await == vec![a_name.clone()]
    })
    .await;
    a.stop().await;
}

#[tokio::test]
async fn info_in_memory_mode_has_no_cluster() {
    let server = TestServer::start().await;
    let (status, info) = server.api(Method::GET, "/api/v1/info", None).await;
    assert_eq!(status, 200);
    assert!(info.get("cluster").is_none(), "{info}");
    let (_, reply) = server
        .api(
            Method::POST,
            "/api/v1/disconnect",
            Some(json!({"user": "ann"})),
        )
        .await;
    assert_eq!(reply, json!({"disconnected": 0}));
    server.stop().await;
}

#[tokio::test]
async fn a_disconnect_without_redis_still_closes_here_and_says_the_others_were_not_reached() {
    let prefix = unique_prefix();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let a = control_node(&prefix, &proxy.redis_url(), None).await;
    let mut ann = a.user("ann").await;
    proxy.cut();

    let (status, reply) = a
        .api(
            Method::POST,
            "/api/v1/disconnect",
            Some(json!({"user": "ann"})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"disconnected": 1, "other_nodes": "unreachable"})
    );
    let (code, _, _) = ann.closed().await;
    assert_eq!(code, 4003);
    let (status, info) = a.api(Method::GET, "/api/v1/info", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["cluster"]["reachable"], false, "{info}");
    a.stop().await;
}

/// A mute set on one node applies at once to the user's sends on another,
/// where the user connected before the mute (each node keeps the users'
/// restrictions in memory, read at connect), and lifting it there too.
#[tokio::test]
async fn a_mute_set_on_one_node_refuses_sends_on_another() {
    let prefix = unique_prefix();
    let database = TestDatabase::create();
    let a = common::cluster::persisting_node(&prefix, REDIS, &database).await;
    let b = common::cluster::persisting_node(&prefix, REDIS, &database).await;
    let mut alice = b.user("alice").await;
    let send = json!({"channel": "talk:muted", "text": "hello"});
    let reply = alice.call("message_send", send.clone()).await;
    assert!(reply.get("result").is_some(), "{reply}");

    let mut moderator = moderator(&a).await;
    moderator
        .ok("mute", json!({"user": "alice", "channel": "talk:muted"}))
        .await;
    // Until the mute reaches the other node, a send there still passes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = alice.call("message_send", send.clone()).await;
        if reply["error"]["code"] == 423 {
            break;
        }
        assert!(reply.get("result").is_some(), "{reply}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mute never reached the other node"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    moderator
        .ok("unmute", json!({"user": "alice", "channel": "talk:muted"}))
        .await;
    loop {
        let reply = alice.call("message_send", send.clone()).await;
        if reply.get("result").is_some() {
            break;
        }
        assert_eq!(reply["error"]["code"], 423, "{reply}");
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(10),
            "the lift never reached the other node"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;
}
