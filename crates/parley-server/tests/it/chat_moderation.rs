//! Moderation over the real wire, each test on SQLite and on PostgreSQL:
//! mutes, bans, reports and the namespace filter.

use crate::common;

use std::time::Duration;

use common::chat::{moderator, moderator_token};
use common::{
    Backend, Client, TestServer, api_call, member_users, on_both_backends, presence_events,
};
use parley_server::chat::filter::{FilterConfig, FilterMode};
use parley_server::config::NamespaceConfig;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    muted_sends_fail_in_the_channel_and_the_app_until_the_mute_ends,
    mutes_over_http_refuse_http_sends_too,
    only_moderators_restrict,
    a_banned_user_is_unsubscribed_at_once_and_cannot_subscribe,
    a_banned_member_stays_out_of_presence_past_lease_renewals,
    an_app_ban_disconnects_and_refuses_connect,
    reports_are_listed_and_resolved,
    filter_blocks_masks_and_flags,
);

async fn start(backend: Backend) -> TestServer {
    TestServer::start_on(backend, |config| {
        for (name, mode) in [
            ("strict", FilterMode::Block),
            ("masked", FilterMode::Mask),
            ("flagged", FilterMode::Flag),
        ] {
            config.apps[0].namespaces.insert(
                name.to_owned(),
                NamespaceConfig {
                    persist: true,
                    allow_publish: true,
                    filter: Some(FilterConfig {
                        mode,
                        words: vec!["spoiler".into(), "the butler".into()],
                        profanity: true,
                    }),
                    ..NamespaceConfig::default()
                },
            );
        }
    })
    .await
}

async fn send(client: &mut Client, channel: &str, text: &str) -> Value {
    client
        .call("message_send", json!({"channel": channel, "text": text}))
        .await
}

async fn muted_sends_fail_in_the_channel_and_the_app_until_the_mute_ends(backend: Backend) {
    let server = start(backend).await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let earlier = send(&mut alice, "talk:a", "before the mute").await;

    let mute = moderator
        .ok("mute", json!({"user": "alice", "channel": "talk:a"}))
        .await;
    assert_eq!(mute["kind"], "mute");
    assert_eq!(mute["channel"], "talk:a");
    assert_eq!(mute["expires_at"], Value::Null);
    let refused = send(&mut alice, "talk:a", "hello").await;
    assert_eq!(refused["error"]["code"], 423, "{refused}");
    assert!(refused["error"].get("retry_after_ms").is_none());
    assert_eq!(
        alice
            .error_code(
                "message_edit",
                json!({"id": earlier["result"]["id"], "text": "edited"})
            )
            .await,
        423,
        "no edits while muted"
    );
    // Muted in one channel only.
    assert!(
        send(&mut alice, "talk:b", "hello")
            .await
            .get("result")
            .is_some()
    );
    // Moderators are never muted.
    assert!(
        send(&mut moderator, "talk:a", "hi")
            .await
            .get("result")
            .is_some()
    );
    let lifted = moderator
        .ok("unmute", json!({"user": "alice", "channel": "talk:a"}))
        .await;
    assert_eq!(lifted["lifted"], true);
    assert!(
        send(&mut alice, "talk:a", "back")
            .await
            .get("result")
            .is_some()
    );

    // In the whole app, with a timeout.
    let mute = moderator
        .ok("mute", json!({"user": "alice", "duration": "1s"}))
        .await;
    assert_eq!(mute["channel"], Value::Null);
    assert!(mute["expires_at"].as_i64().unwrap() > mute["created_at"].as_i64().unwrap());
    for channel in ["talk:a", "talk:b"] {
        let refused = send(&mut alice, channel, "hello").await;
        assert_eq!(refused["error"]["code"], 423);
        let wait = refused["error"]["retry_after_ms"].as_u64().unwrap();
        assert!((1..=1000).contains(&wait), "{refused}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        send(&mut alice, "talk:a", "free")
            .await
            .get("result")
            .is_some()
    );
    let lifted = moderator.ok("unmute", json!({"user": "alice"})).await;
    assert_eq!(lifted["lifted"], false, "an expired mute is not in force");

    for params in [
        json!({"user": "alice", "duration": "soon"}),
        json!({"user": "alice", "duration": "0s"}),
        json!({"user": "", "channel": "talk:a"}),
        json!({"user": "alice", "channel": "bad channel"}),
    ] {
        assert_eq!(moderator.error_code("mute", params).await, 400);
    }
    assert_eq!(
        moderator
            .error_code("mute", json!({"user": "alice", "channel": "chat:a"}))
            .await,
        400,
        "restrictions apply to persisted namespaces"
    );
}

async fn mutes_over_http_refuse_http_sends_too(backend: Backend) {
    let server = start(backend).await;
    let (status, mute) = server
        .api(
            Method::POST,
            "/api/v1/moderation/mute",
            Some(json!({"user": "alice", "channel": "talk:a", "duration": "10m"})),
        )
        .await;
    assert_eq!(status, 200, "{mute}");
    assert_eq!(mute["created_by"], "system");
    let url = server.url("/api/v1/channels/talk:a/messages");
    let (status, body) = api_call(
        &url,
        Method::POST,
        Some(&server.token("alice")),
        Some(json!({"text": "hello"})),
    )
    .await;
    assert_eq!(status, 423, "{body}");
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() > 500_000);
    let mut alice = server.user("alice").await;
    assert_eq!(
        send(&mut alice, "talk:a", "hello").await["error"]["code"],
        423
    );

    let (status, listed) = server
        .api(
            Method::GET,
            "/api/v1/moderation/restrictions?user=alice",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["restrictions"].as_array().unwrap().len(), 1);
    assert_eq!(listed["restrictions"][0]["kind"], "mute");

    let (status, lifted) = server
        .api(
            Method::POST,
            "/api/v1/moderation/unmute",
            Some(json!({"user": "alice", "channel": "talk:a"})),
        )
        .await;
    assert_eq!((status, &lifted["lifted"]), (200, &json!(true)));
    let (status, _) = api_call(
        &url,
        Method::POST,
        Some(&server.token("alice")),
        Some(json!({"text": "hello"})),
    )
    .await;
    assert_eq!(status, 201);
}

async fn only_moderators_restrict(backend: Backend) {
    let server = start(backend).await;
    let mut bob = server.user("bob").await;
    for method in ["mute", "unmute", "ban", "unban"] {
        assert_eq!(
            bob.error_code(method, json!({"user": "alice", "channel": "talk:a"}))
                .await,
            403,
            "{method}"
        );
    }
    let (status, _) = api_call(
        &server.url("/api/v1/moderation/ban"),
        Method::POST,
        Some(&server.token("bob")),
        Some(json!({"user": "alice"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api_call(
        &server.url("/api/v1/moderation/ban"),
        Method::POST,
        Some(&moderator_token("mod")),
        Some(json!({"user": "alice", "channel": "talk:a"})),
    )
    .await;
    assert_eq!(status, 200, "a moderator's own token works over HTTP");
    let (status, _) = api_call(
        &server.url("/api/v1/reports"),
        Method::GET,
        Some(&server.token("bob")),
        None,
    )
    .await;
    assert_eq!(status, 403);
}

async fn a_banned_user_is_unsubscribed_at_once_and_cannot_subscribe(backend: Backend) {
    let server = start(backend).await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut alice_again = server.user("alice").await;
    let mut bob = server.user("bob").await;
    for client in [&mut alice, &mut alice_again, &mut bob] {
        client.ok("subscribe", json!({"channel": "talk:a"})).await;
    }
    alice.ok("subscribe", json!({"channel": "talk:b"})).await;

    moderator
        .ok("ban", json!({"user": "alice", "channel": "talk:a"}))
        .await;
    for client in [&mut alice, &mut alice_again] {
        let push = client.push().await;
        assert_eq!(push["push"], "unsubscribed");
        assert_eq!(push["channel"], "talk:a");
        assert_eq!(push["reason"], "banned");
    }
    send(&mut moderator, "talk:a", "after the ban").await;
    assert_eq!(bob.push().await["data"]["text"], "after the ban");
    assert!(alice.no_push_within(Duration::from_millis(200)).await);
    // Still subscribed elsewhere.
    send(&mut moderator, "talk:b", "elsewhere").await;
    assert_eq!(alice.push().await["data"]["text"], "elsewhere");

    assert_eq!(
        alice
            .error_code("subscribe", json!({"channel": "talk:a"}))
            .await,
        451
    );
    assert_eq!(send(&mut alice, "talk:a", "hi").await["error"]["code"], 451);
    assert_eq!(
        alice
            .error_code("messages", json!({"channel": "talk:a"}))
            .await,
        451,
        "nor read it"
    );
    let mut fresh = server.user("alice").await;
    assert_eq!(
        fresh
            .error_code("subscribe", json!({"channel": "talk:a"}))
            .await,
        451
    );

    moderator
        .ok("unban", json!({"user": "alice", "channel": "talk:a"}))
        .await;
    alice.ok("subscribe", json!({"channel": "talk:a"})).await;
    send(&mut moderator, "talk:a", "welcome back").await;
    assert_eq!(alice.push().await["data"]["text"], "welcome back");
}

/// A ban ends the subscription and its presence; the banned user's
/// connection stays open and keeps renewing its other leases, and the
/// renewal must not list them in the channel again.
async fn a_banned_member_stays_out_of_presence_past_lease_renewals(backend: Backend) {
    let server = TestServer::start_on(backend, |config| {
        // A renewal every 200 ms; a lease outlives the test, so only a
        // renewal can bring a member back.
        config.ping_interval = Duration::from_millis(200);
        config.pong_timeout = Duration::from_secs(30);
        config.apps[0].namespaces.insert(
            "hall".to_owned(),
            NamespaceConfig {
                persist: true,
                presence: true,
                presence_ttl: Duration::from_secs(60),
                ..NamespaceConfig::default()
            },
        );
    })
    .await;
    let mut moderator = moderator(&server).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "hall:a"})).await;
    alice.ok("subscribe", json!({"channel": "hall:a"})).await;
    // Another presence channel, so alice's connection renews leases.
    alice.ok("subscribe", json!({"channel": "hall:b"})).await;
    while presence_events(&[bob.push().await], "hall:a", "alice").0 == 0 {}

    moderator
        .ok("ban", json!({"user": "alice", "channel": "hall:a"}))
        .await;
    // Past five renewals, both connections reading (so both are alive).
    let (_, seen) = tokio::join!(
        alice.pushes_within(Duration::from_secs(1)),
        bob.pushes_within(Duration::from_secs(1))
    );
    assert_eq!(
        presence_events(&seen, "hall:a", "alice"),
        (0, 1),
        "one leave and no join again: {seen:?}"
    );
    let members = bob.ok("presence", json!({"channel": "hall:a"})).await;
    assert_eq!(member_users(&members), ["bob"]);
    let (status, members) = server
        .api(Method::GET, "/api/v1/presence?channel=hall:a", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(member_users(&members), ["bob"]);
    let members = alice.ok("presence", json!({"channel": "hall:b"})).await;
    assert_eq!(member_users(&members), ["alice"], "still present elsewhere");
}

async fn an_app_ban_disconnects_and_refuses_connect(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    alice.ok("subscribe", json!({"channel": "talk:a"})).await;
    let (status, ban) = server
        .api(
            Method::POST,
            "/api/v1/moderation/ban",
            Some(json!({"user": "alice", "duration": "1h"})),
        )
        .await;
    assert_eq!(status, 200, "{ban}");
    let (code, _, _) = alice.closed().await;
    assert_eq!(code, 4003);

    let mut again = Client::open(&server.ws_url()).await;
    let reply = again
        .call("connect", json!({"token": server.token("alice")}))
        .await;
    assert_eq!(reply["error"]["code"], 451, "{reply}");
    let (code, _, _) = again.closed().await;
    assert_eq!(code, 4003);

    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/moderation/unban",
            Some(json!({"user": "alice"})),
        )
        .await;
    assert_eq!(status, 200);
    let mut alice = server.user("alice").await;
    alice.ok("subscribe", json!({"channel": "talk:a"})).await;
}

async fn reports_are_listed_and_resolved(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    bob.ok("subscribe", json!({"channel": "talk:a"})).await;
    let first = send(&mut alice, "talk:a", "rude words").await["result"].clone();
    let second = send(&mut alice, "talk:a", "more rude words").await["result"].clone();
    for _ in 0..2 {
        bob.push().await;
    }

    let report = bob
        .ok(
            "report",
            json!({"message_id": first["id"], "reason": "insulting"}),
        )
        .await;
    assert_eq!(report["status"], "open");
    assert_eq!(report["reporter"], "bob");
    assert_eq!(report["message_id"], first["id"]);
    let again = bob
        .ok(
            "report",
            json!({"message_id": first["id"], "reason": "insulting"}),
        )
        .await;
    assert_eq!(
        again["id"], report["id"],
        "one report per reporter and message"
    );
    let other = bob
        .ok(
            "report",
            json!({"message_id": second["id"], "reason": "spam"}),
        )
        .await;
    for params in [
        json!({"message_id": first["id"], "reason": " "}),
        json!({"message_id": "nope", "reason": "x"}),
    ] {
        assert_eq!(bob.error_code("report", params).await, 400);
    }
    assert_eq!(
        bob.error_code("report", json!({"message_id": "999999", "reason": "x"}))
            .await,
        404
    );

    let (status, page) = server
        .api(Method::GET, "/api/v1/reports?status=open", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&Value> = page["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, vec![&other["id"], &report["id"]], "newest first");
    let (_, page) = server
        .api(Method::GET, "/api/v1/reports?status=open&limit=1", None)
        .await;
    assert_eq!(page["has_more"], true);
    let before = page["reports"][0]["id"].as_str().unwrap().to_owned();
    let (_, page) = server
        .api(
            Method::GET,
            &format!("/api/v1/reports?status=open&limit=1&before={before}"),
            None,
        )
        .await;
    assert_eq!(page["reports"][0]["id"], report["id"]);
    assert_eq!(page["has_more"], false);

    let id = report["id"].as_str().unwrap();
    let (status, resolved) = server
        .api(
            Method::POST,
            &format!("/api/v1/reports/{id}/resolve"),
            Some(json!({"action": "delete"})),
        )
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["action"], "delete");
    assert_eq!(resolved["resolved_by"], "system");
    let deleted = bob.push().await;
    assert_eq!(deleted["push"], "message_deleted");
    assert_eq!(deleted["data"]["id"], first["id"]);
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/api/v1/reports/{id}/resolve"),
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_eq!(status, 400, "resolved already");
    let other_id = other["id"].as_str().unwrap();
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/api/v1/reports/{other_id}/resolve"),
            Some(json!({"action": "ban"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/api/v1/reports/{other_id}/resolve"),
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api(
            Method::POST,
            "/api/v1/reports/424242/resolve",
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_eq!(status, 404);

    let (_, open) = server
        .api(Method::GET, "/api/v1/reports?status=open", None)
        .await;
    assert!(open["reports"].as_array().unwrap().is_empty());
    let (_, resolved) = server
        .api(Method::GET, "/api/v1/reports?status=resolved", None)
        .await;
    assert_eq!(resolved["reports"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .api(Method::GET, "/api/v1/reports?status=maybe", None)
        .await;
    assert_eq!(status, 400);
}

async fn filter_blocks_masks_and_flags(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;

    let refused = send(&mut alice, "strict:a", "SPOILER: it was the butler").await;
    assert_eq!(refused["error"]["code"], 422, "{refused}");
    let refused = send(&mut alice, "strict:a", "what the fuck").await;
    assert_eq!(refused["error"]["code"], 422);
    let kept = send(&mut alice, "strict:a", "no spoilers here").await;
    assert!(kept.get("result").is_some());
    assert_eq!(
        alice
            .error_code(
                "message_edit",
                json!({"id": kept["result"]["id"], "text": "spoiler"})
            )
            .await,
        422
    );
    let (status, _) = api_call(
        &server.url("/api/v1/channels/strict:a/messages"),
        Method::POST,
        Some(&server.token("alice")),
        Some(json!({"text": "spoiler"})),
    )
    .await;
    assert_eq!(status, 422);

    let masked = send(&mut alice, "masked:a", "It was The Butler, spoiler!").await;
    assert_eq!(masked["result"]["text"], "It was *** ******, *******!");
    let edited = alice
        .ok(
            "message_edit",
            json!({"id": masked["result"]["id"], "text": "a SPOILER again"}),
        )
        .await;
    assert_eq!(edited["text"], "a ******* again", "edits are filtered too");
    let edited = alice
        .ok(
            "message_edit",
            json!({"id": masked["result"]["id"], "text": "It was The Butler, spoiler!"}),
        )
        .await;
    assert_eq!(edited["text"], "It was *** ******, *******!");
    let stored = alice.ok("messages", json!({"channel": "masked:a"})).await;
    assert_eq!(stored["messages"][0]["text"], "It was *** ******, *******!");

    let flagged = send(&mut alice, "flagged:a", "big spoiler ahead").await;
    assert_eq!(flagged["result"]["text"], "big spoiler ahead");
    let clean = send(&mut alice, "flagged:a", "nothing to see").await;
    assert!(clean.get("result").is_some());
    let (_, page) = server
        .api(Method::GET, "/api/v1/reports?status=open", None)
        .await;
    let reports = page["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{page}");
    assert_eq!(reports[0]["reporter"], "system");
    assert_eq!(reports[0]["message_id"], flagged["result"]["id"]);
    assert_eq!(reports[0]["reason"], "filter: listed word");
}
