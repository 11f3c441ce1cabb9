//! Rooms and members over the real wire, each test on SQLite and on
//! PostgreSQL: creating rooms, the one direct room per pair, adding and
//! removing members with their pushes, the membership gate, the room list
//! and the server API.

use crate::common;

use std::time::Duration;

use common::chat::start_with_rooms as start;
use common::{
    Backend, Client, SECRET, TestServer, api_call, member_users, on_both_backends, presence_events,
    push_named, token_with,
};
use parley_server::config::NamespaceConfig;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    group_room_members_and_refusals,
    direct_room_once_per_pair,
    rooms_list_with_last_message_and_unread,
    server_api_rooms,
    a_removed_member_stays_out_of_presence_past_lease_renewals,
);

async fn group(client: &mut Client, members: &[&str]) -> String {
    let created = client
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": "team", "members": members}),
        )
        .await;
    assert_eq!(created["created"], true);
    created["room"]["channel"].as_str().unwrap().to_owned()
}

async fn group_room_members_and_refusals(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;

    let created = alice
        .ok(
            "room_create",
            json!({"kind": "group", "namespace": "team", "members": ["bob"]}),
        )
        .await;
    let room = created["room"]["channel"].as_str().unwrap().to_owned();
    assert!(room.starts_with("team:"));
    assert_eq!(created["room"]["kind"], "group");
    assert_eq!(
        created["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["user"].as_str().unwrap(), m["role"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![("alice", "owner"), ("bob", "member")]
    );

    // Non-members are refused everything, with 403.
    assert_eq!(
        carol
            .error_code("subscribe", json!({"channel": room}))
            .await,
        403
    );
    assert_eq!(
        carol
            .error_code("message_send", json!({"channel": room, "text": "hi"}))
            .await,
        403
    );
    assert_eq!(
        carol.error_code("history", json!({"channel": room})).await,
        403
    );
    assert_eq!(
        carol.error_code("messages", json!({"channel": room})).await,
        403
    );
    assert_eq!(
        carol
            .error_code("publish", json!({"channel": room, "data": {"x": 1}}))
            .await,
        403
    );
    // A room's channel is not created by naming it.
    assert_eq!(
        carol
            .error_code(
                "message_send",
                json!({"channel": "team:nowhere", "text": "hi"})
            )
            .await,
        403
    );

    alice.ok("subscribe", json!({"channel": room})).await;
    bob.ok("subscribe", json!({"channel": room})).await;
    carol
        .ok("subscribe", json!({"channel": "team:inbox#carol"}))
        .await;

    // A member cannot add or remove others.
    assert_eq!(
        bob.error_code(
            "room_add_members",
            json!({"channel": room, "members": ["dave"]})
        )
        .await,
        403
    );
    assert_eq!(
        bob.error_code(
            "room_remove_members",
            json!({"channel": room, "members": ["alice"]})
        )
        .await,
        403
    );

    // The owner adds carol: the room's subscribers and carol's inbox hear it.
    let added = alice
        .ok(
            "room_add_members",
            json!({"channel": room, "members": ["carol"]}),
        )
        .await;
    assert_eq!(added["members"][0]["user"], "carol");
    let push = push_named(&mut bob, "member_added").await;
    assert_eq!(push["channel"], room.as_str());
    assert_eq!(push["data"]["members"][0]["user"], "carol");
    assert_eq!(push["data"]["by"], "alice");
    assert_eq!(push["offset"], added["offset"]);
    assert!(push["epoch"].is_string());
    let notice = push_named(&mut carol, "member_added").await;
    assert_eq!(notice["channel"], "team:inbox#carol");
    assert_eq!(notice["data"]["room"]["channel"], room.as_str());
    assert!(notice["offset"].is_u64());
    // Adding her again changes nothing, and says so.
    assert_eq!(
        alice
            .error_code(
                "room_add_members",
                json!({"channel": room, "members": ["carol"]})
            )
            .await,
        400
    );

    carol.ok("subscribe", json!({"channel": room})).await;
    let sent = carol
        .ok(
            "message_send",
            json!({"channel": room, "text": "hello team"}),
        )
        .await;
    assert_eq!(push_named(&mut bob, "message_created").await["data"], sent);

    // Bob leaves; he may remove himself.
    bob.ok(
        "room_remove_members",
        json!({"channel": room, "members": ["bob"]}),
    )
    .await;
    let push = push_named(&mut alice, "member_removed").await;
    assert_eq!(push["data"]["members"][0]["user"], "bob");
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": room, "text": "still here?"})
        )
        .await,
        403
    );
    assert_eq!(
        bob.error_code("history", json!({"channel": room})).await,
        403
    );

    // The owner removes carol: her connection stops receiving the room.
    alice
        .ok(
            "room_remove_members",
            json!({"channel": room, "members": ["carol"]}),
        )
        .await;
    let bob_left = push_named(&mut carol, "member_removed").await;
    assert_eq!(bob_left["data"]["members"][0]["user"], "bob");
    let removed = push_named(&mut carol, "member_removed").await;
    assert_eq!(removed["channel"], room.as_str());
    assert_eq!(removed["data"]["members"][0]["user"], "carol");
    // (Her inbox hears of it too.)
    let notice = push_named(&mut carol, "member_removed").await;
    assert_eq!(notice["channel"], "team:inbox#carol");
    alice
        .ok(
            "message_send",
            json!({"channel": room, "text": "carol is gone"}),
        )
        .await;
    assert!(carol.no_push_within(Duration::from_millis(300)).await);
    assert_eq!(
        carol
            .error_code("subscribe", json!({"channel": room}))
            .await,
        403
    );

    // A token moderator manages members without being one.
    let mut admin = Client::open(&server.ws_url()).await;
    admin
        .ok(
            "connect",
            json!({"token": token_with(SECRET, "root", |claims| claims.roles = vec!["admin".into()])}),
        )
        .await;
    admin
        .ok(
            "room_add_members",
            json!({"channel": room, "members": ["dave"]}),
        )
        .await;
    assert_eq!(
        admin
            .error_code("subscribe", json!({"channel": room}))
            .await,
        403
    );

    // Rooms only in members_only namespaces; bad kinds and users refused.
    for params in [
        json!({"kind": "group", "namespace": "talk", "members": ["bob"]}),
        json!({"kind": "circle", "namespace": "team", "members": ["bob"]}),
        json!({"kind": "group", "namespace": "team", "members": ["bad\nid"]}),
        json!({"kind": "group", "channel": "team:inbox#alice", "members": ["bob"]}),
    ] {
        assert_eq!(
            alice.error_code("room_create", params.clone()).await,
            400,
            "{params}"
        );
    }
    // A named group room exists once.
    alice
        .ok(
            "room_create",
            json!({"kind": "group", "channel": "team:named", "members": []}),
        )
        .await;
    assert_eq!(
        alice
            .error_code(
                "room_create",
                json!({"kind": "group", "channel": "team:named"})
            )
            .await,
        400
    );
    server.stop().await;
}

async fn direct_room_once_per_pair(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let first = alice
        .ok(
            "room_create",
            json!({"kind": "direct", "namespace": "team", "members": ["bob"]}),
        )
        .await;
    assert_eq!(first["created"], true);
    assert_eq!(first["room"]["kind"], "direct");
    let again = bob
        .ok(
            "room_create",
            json!({"kind": "direct", "namespace": "team", "members": ["alice"]}),
        )
        .await;
    assert_eq!(again["created"], false);
    assert_eq!(again["room"]["channel"], first["room"]["channel"]);
    assert!(again.get("offset").is_none());
    let room = first["room"]["channel"].as_str().unwrap();
    // Exactly two different users; the pair keeps its two members.
    for params in [
        json!({"kind": "direct", "namespace": "team", "members": ["alice"]}),
        json!({"kind": "direct", "namespace": "team", "members": ["bob", "carol"]}),
        json!({"kind": "direct", "namespace": "team", "members": []}),
    ] {
        assert_eq!(
            alice.error_code("room_create", params.clone()).await,
            400,
            "{params}"
        );
    }
    assert_eq!(
        alice
            .error_code(
                "room_add_members",
                json!({"channel": room, "members": ["carol"]})
            )
            .await,
        403
    );
    bob.ok("subscribe", json!({"channel": room})).await;
    let sent = alice
        .ok("message_send", json!({"channel": room, "text": "psst"}))
        .await;
    assert_eq!(push_named(&mut bob, "message_created").await["data"], sent);
    let mut carol = server.user("carol").await;
    assert_eq!(
        carol
            .error_code("subscribe", json!({"channel": room}))
            .await,
        403
    );
    server.stop().await;
}

async fn rooms_list_with_last_message_and_unread(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let first = group(&mut alice, &["bob"]).await;
    let second = group(&mut alice, &["bob"]).await;
    let third = group(&mut alice, &["bob"]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    alice
        .ok(
            "message_send",
            json!({"channel": first, "text": "newest activity"}),
        )
        .await;

    let mut bob = server.user("bob").await;
    let page = bob.ok("rooms", json!({"limit": 2})).await;
    let rooms = page["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 2);
    assert_eq!(rooms[0]["channel"], first.as_str());
    assert_eq!(rooms[0]["role"], "member");
    assert_eq!(rooms[0]["member_count"], 2);
    assert_eq!(rooms[0]["last_message"]["text"], "newest activity");
    assert_eq!(rooms[0]["unread"], 1);
    assert_eq!(rooms[1]["last_message"], Value::Null);
    assert_eq!(rooms[1]["unread"], 0);
    let next = page["next"].as_str().unwrap().to_owned();
    let rest = bob.ok("rooms", json!({"cursor": next, "limit": 2})).await;
    let rest = rest["rooms"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    let mut all: Vec<&str> = rooms
        .iter()
        .chain(rest)
        .map(|room| room["channel"].as_str().unwrap())
        .collect();
    all.sort();
    let mut expected = vec![first.as_str(), second.as_str(), third.as_str()];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        bob.error_code("rooms", json!({"cursor": "nonsense"})).await,
        400
    );

    let mut carol = server.user("carol").await;
    let none = carol.ok("rooms", json!({})).await;
    assert_eq!(none["rooms"], json!([]));
    assert_eq!(none["next"], Value::Null);
    server.stop().await;
}

async fn server_api_rooms(backend: Backend) {
    let server = start(backend).await;
    let (status, created) = server
        .api(
            Method::POST,
            "/api/v1/rooms",
            Some(
                json!({"kind": "group", "namespace": "team", "owner": "olga", "members": ["pat"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let room = created["room"]["channel"].as_str().unwrap().to_owned();
    assert_eq!(created["room"]["created_by"], "system");
    let (status, direct) = server
        .api(
            Method::POST,
            "/api/v1/rooms",
            Some(json!({"kind": "direct", "namespace": "team", "members": ["pat", "olga"]})),
        )
        .await;
    assert_eq!(status, 201, "{direct}");
    let (status, again) = server
        .api(
            Method::POST,
            "/api/v1/rooms",
            Some(json!({"kind": "direct", "namespace": "team", "members": ["olga", "pat"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["room"]["channel"], direct["room"]["channel"]);

    let mut pat = server.user("pat").await;
    pat.ok("subscribe", json!({"channel": room})).await;
    let members_path = format!("/api/v1/rooms/{room}/members");
    let (status, added) = server
        .api(
            Method::POST,
            &members_path,
            Some(json!({"members": ["quinn"], "role": "moderator"})),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let push = push_named(&mut pat, "member_added").await;
    assert_eq!(push["data"]["members"][0]["role"], "moderator");
    let (status, members) = server.api(Method::GET, &members_path, None).await;
    assert_eq!(status, 200);
    let users: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), 3);
    assert!(users.contains(&"olga") && users.contains(&"pat") && users.contains(&"quinn"));

    let (status, _) = server
        .api(Method::DELETE, &format!("{members_path}/quinn"), None)
        .await;
    assert_eq!(status, 200);
    let push = push_named(&mut pat, "member_removed").await;
    assert_eq!(push["data"]["members"][0]["user"], "quinn");
    let (status, _) = server
        .api(Method::DELETE, &format!("{members_path}/quinn"), None)
        .await;
    assert_eq!(status, 400);

    // Users over HTTP with their token: members only.
    let messages = server.url(&format!("/api/v1/channels/{room}/messages"));
    let (status, _) = api_call(&messages, Method::GET, Some(&server.token("pat")), None).await;
    assert_eq!(status, 200);
    let (status, _) = api_call(&messages, Method::GET, Some(&server.token("zed")), None).await;
    assert_eq!(status, 403);
    let (status, _) = api_call(
        &messages,
        Method::POST,
        Some(&server.token("zed")),
        Some(json!({"text": "let me in"})),
    )
    .await;
    assert_eq!(status, 403);

    let (status, listed) = server
        .api(Method::GET, "/api/v1/rooms?user=pat", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["rooms"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .api(Method::GET, "/api/v1/rooms/talk:lobby/members", None)
        .await;
    assert_eq!(status, 404);
    let (status, error) = server
        .api(
            Method::POST,
            "/api/v1/rooms",
            Some(json!({"kind": "direct", "namespace": "team", "members": ["olga"]})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(error["error"]["message"].is_string());
    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/rooms/team:nope/members",
            Some(json!({"members": ["x"]})),
        )
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// A member removed from a room leaves its presence once, and the lease
/// renewals of their still open connection do not list them again.
async fn a_removed_member_stays_out_of_presence_past_lease_renewals(backend: Backend) {
    let server = TestServer::start_on(backend, |config| {
        // A renewal every 200 ms; a lease outlives the test, so only a
        // renewal can bring a member back.
        config.ping_interval = Duration::from_millis(200);
        config.pong_timeout = Duration::from_secs(30);
        config.apps[0].namespaces.insert(
            "team".to_owned(),
            NamespaceConfig {
                persist: true,
                members_only: true,
                presence: true,
                presence_ttl: Duration::from_secs(60),
                ..NamespaceConfig::default()
            },
        );
    })
    .await;
    let mut alice = server.user("alice").await;
    let mut carol = server.user("carol").await;
    let room = group(&mut alice, &["carol"]).await;
    let other = group(&mut carol, &[]).await;
    alice.ok("subscribe", json!({"channel": room})).await;
    carol.ok("subscribe", json!({"channel": room})).await;
    // Another presence channel, so carol's connection renews leases.
    carol.ok("subscribe", json!({"channel": other})).await;
    while presence_events(&[alice.push().await], &room, "carol").0 == 0 {}

    alice
        .ok(
            "room_remove_members",
            json!({"channel": room, "members": ["carol"]}),
        )
        .await;
    // Past five renewals, both connections reading (so both are alive).
    let (seen, _) = tokio::join!(
        alice.pushes_within(Duration::from_secs(1)),
        carol.pushes_within(Duration::from_secs(1))
    );
    assert_eq!(
        presence_events(&seen, &room, "carol"),
        (0, 1),
        "one leave and no join again: {seen:?}"
    );
    let members = alice.ok("presence", json!({"channel": room})).await;
    assert_eq!(member_users(&members), ["alice"]);
    let path = format!("/api/v1/presence?channel={}", room.replace('#', "%23"));
    let (status, members) = server.api(Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(member_users(&members), ["alice"]);
    let members = carol.ok("presence", json!({"channel": other})).await;
    assert_eq!(member_users(&members), ["carol"], "still present elsewhere");
}
