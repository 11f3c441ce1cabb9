//! Durable chat over the real wire, each test on SQLite and on PostgreSQL.

use crate::common;

use std::time::Duration;

use common::chat::send;
use common::{Backend, Client, SECRET, api_call, on_both_backends, start, token_with};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    send_ack_and_receive,
    resend_with_client_msg_id_is_idempotent,
    edit_and_delete_rules,
    pagination_before_after_and_around,
    recovery_replays_exactly_what_was_missed,
    rate_limit_counts_every_connection_of_a_user,
    http_history_and_messages,
);

async fn send_ack_and_receive(backend: Backend) {
    let server = start(backend).await;
    let mut reader = server.user("reader").await;
    let subscribed = reader
        .ok("subscribe", json!({"channel": "talk:room"}))
        .await;
    assert_eq!(subscribed["offset"], 0);
    let mut writer = server.user("writer").await;
    let ack = writer
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "hello", "meta": {"kind": "greeting"}}),
        )
        .await;
    assert_eq!(ack["author"], "writer");
    assert_eq!(ack["text"], "hello");
    assert_eq!(ack["offset"], 1);
    assert_eq!(ack["meta"], json!({"kind": "greeting"}));
    assert!(ack["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(ack["created_at"].as_u64().unwrap() > 1_600_000_000_000);
    let push = reader.push().await;
    assert_eq!(push["push"], "message_created");
    assert_eq!(push["data"], ack);
    assert_eq!(push["offset"], 1);
    assert_eq!(push["epoch"], subscribed["epoch"]);

    for (text, code) in [("", 400), ("   \n", 400), (&"x".repeat(51) as &str, 400)] {
        let reply = writer
            .call(
                "message_send",
                json!({"channel": "talk:room", "text": text}),
            )
            .await;
        assert_eq!(reply["error"]["code"], code, "{text:?}");
    }
    assert_eq!(
        writer
            .error_code("message_send", json!({"channel": "chat:x", "text": "hi"}))
            .await,
        400
    );
    let mut anonymous = Client::open(&server.ws_url()).await;
    anonymous.ok("connect", json!({})).await;
    assert_eq!(
        anonymous
            .error_code(
                "message_send",
                json!({"channel": "talk:room", "text": "hi"})
            )
            .await,
        403
    );
    server.stop().await;
}

async fn resend_with_client_msg_id_is_idempotent(backend: Backend) {
    let server = start(backend).await;
    let mut reader = server.user("reader").await;
    reader
        .ok("subscribe", json!({"channel": "talk:idem"}))
        .await;
    let mut writer = server.user("writer").await;
    let message = json!({"channel": "talk:idem", "text": "once", "client_msg_id": "c-1"});
    let first = writer.ok("message_send", message.clone()).await;
    let again = writer.ok("message_send", message).await;
    assert_eq!(first, again);
    assert_eq!(reader.push().await["data"]["id"], first["id"]);
    assert!(
        reader.no_push_within(Duration::from_millis(300)).await,
        "no second push"
    );
    let page = reader.ok("messages", json!({"channel": "talk:idem"})).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    server.stop().await;
}

async fn edit_and_delete_rules(backend: Backend) {
    let server = start(backend).await;
    let mut author = server.user("ann").await;
    let mut other = server.user("bob").await;
    let moderator_token = token_with(SECRET, "mod", |claims| {
        claims.roles = vec!["moderator".into()]
    });
    let mut moderator = Client::open(&server.ws_url()).await;
    moderator
        .ok("connect", json!({"token": moderator_token}))
        .await;
    moderator
        .ok("subscribe", json!({"channel": "talk:rules"}))
        .await;

    let message = send(&mut author, "talk:rules", "first draft").await;
    let id = message["id"].as_str().unwrap().to_owned();
    assert_eq!(moderator.push().await["push"], "message_created");
    assert_eq!(
        other
            .error_code("message_edit", json!({"id": id, "text": "mine now"}))
            .await,
        403
    );
    let edited = author
        .ok("message_edit", json!({"id": id, "text": "final"}))
        .await;
    assert_eq!(edited["text"], "final");
    assert!(edited["edited_at"].as_u64().is_some());
    let update = moderator.push().await;
    assert_eq!(
        (update["push"].as_str(), update["offset"].as_u64()),
        (Some("message_updated"), Some(2))
    );
    let trail = moderator.ok("edit_trail", json!({"id": id})).await;
    assert_eq!(trail["revisions"][0]["text"], "first draft");
    assert_eq!(
        author.error_code("edit_trail", json!({"id": id})).await,
        403
    );

    assert_eq!(
        other.error_code("message_delete", json!({"id": id})).await,
        403
    );
    let tombstone = author.ok("message_delete", json!({"id": id})).await;
    assert!(tombstone["deleted_at"].as_u64().is_some());
    assert_eq!(tombstone["text"], "");
    assert_eq!(moderator.push().await["push"], "message_deleted");
    let page = author
        .ok("messages", json!({"channel": "talk:rules"}))
        .await;
    assert_eq!(
        page["messages"][0]["deleted_at"], tombstone["deleted_at"],
        "a tombstone stays"
    );

    let second = send(&mut other, "talk:rules", "spam").await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(
        author
            .error_code("message_delete", json!({"id": second_id, "hard": true}))
            .await,
        403
    );
    moderator
        .ok("message_delete", json!({"id": second_id, "hard": true}))
        .await;
    let page = author
        .ok("messages", json!({"channel": "talk:rules"}))
        .await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        1,
        "hard-deleted rows are gone"
    );
    assert_eq!(
        author
            .error_code("message_edit", json!({"id": "999999", "text": "x"}))
            .await,
        404
    );
    server.stop().await;
}

async fn pagination_before_after_and_around(backend: Backend) {
    let server = start(backend).await;
    let mut client = server.user("ann").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            send(&mut client, "talk:pages", &format!("m{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let texts = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest = client
        .ok("messages", json!({"channel": "talk:pages", "limit": 3}))
        .await;
    assert_eq!(texts(&newest), ["m9", "m8", "m7"]);
    assert_eq!(
        (newest["has_older"].as_bool(), newest["has_newer"].as_bool()),
        (Some(true), Some(false))
    );
    let before = client
        .ok(
            "messages",
            json!({"channel": "talk:pages", "limit": 3, "before": ids[7]}),
        )
        .await;
    assert_eq!(texts(&before), ["m6", "m5", "m4"]);
    let after = client
        .ok(
            "messages",
            json!({"channel": "talk:pages", "limit": 3, "after": ids[1], "order": "oldest_first"}),
        )
        .await;
    assert_eq!(texts(&after), ["m2", "m3", "m4"]);
    let around = client
        .ok(
            "messages",
            json!({"channel": "talk:pages", "limit": 3, "around": ids[5], "order": "oldest_first"}),
        )
        .await;
    assert!(texts(&around).contains(&"m5".to_owned()));
    assert_eq!(texts(&around).len(), 3);
    let history = client
        .ok(
            "history",
            json!({"channel": "talk:pages", "limit": 4, "before": 5}),
        )
        .await;
    let offsets: Vec<u64> = history["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [1, 2, 3, 4]);
    assert_eq!(history["has_more"], false);
    assert_eq!(history["publications"][0]["kind"], "message_created");
    assert_eq!(
        client
            .error_code("messages", json!({"channel": "talk:pages", "limit": 101}))
            .await,
        400
    );
    assert_eq!(
        client
            .error_code(
                "messages",
                json!({"channel": "talk:pages", "before": "1", "after": "2"})
            )
            .await,
        400
    );
    server.stop().await;
}

async fn recovery_replays_exactly_what_was_missed(backend: Backend) {
    let server = start(backend).await;
    let mut writer = server.user("writer").await;
    let first = send(&mut writer, "talk:rec", "before").await;
    let mut reader = server.user("reader").await;
    let subscribed = reader.ok("subscribe", json!({"channel": "talk:rec"})).await;
    let (offset, epoch) = (
        subscribed["offset"].as_u64().unwrap(),
        subscribed["epoch"].clone(),
    );
    assert_eq!(offset, 1);
    drop(reader);

    // 50 messages and one edit while the reader is away.
    for n in 0..50 {
        send(&mut writer, "talk:rec", &format!("missed {n}")).await;
    }
    writer
        .ok("message_edit", json!({"id": first["id"], "text": "edited"}))
        .await;

    // Publications keep arriving while the reader resubscribes.
    let url = server.url("/api/v1/messages");
    let background = tokio::spawn(async move {
        for n in 0..20 {
            let body =
                json!({"channel": "talk:rec", "user": "writer", "text": format!("live {n}")});
            let (status, _) = api_call(&url, Method::POST, Some(common::API_KEY), Some(body)).await;
            assert_eq!(status, 201);
        }
    });
    let mut reader = server.user("reader").await;
    let reply = reader
        .ok(
            "subscribe",
            json!({"channel": "talk:rec", "since": {"offset": offset, "epoch": epoch}}),
        )
        .await;
    assert_eq!(reply["recovered"], true);
    assert_eq!(reply["epoch"], epoch);
    background.await.unwrap();
    let top = reply["offset"].as_u64().unwrap();
    assert!(top >= 52);
    // Offsets 2..=52 replayed, then every live one: no gap, no duplicate.
    let mut expected = 2;
    while expected <= 72 {
        let push = reader.push().await;
        assert_eq!(push["offset"], expected, "{push}");
        match expected {
            2..=51 => assert_eq!(push["data"]["text"], format!("missed {}", expected - 2)),
            52 => {
                assert_eq!(push["push"], "message_updated");
                assert_eq!(push["data"]["text"], "edited");
            }
            _ => assert_eq!(push["data"]["text"], format!("live {}", expected - 53)),
        }
        expected += 1;
    }
    assert!(reader.no_push_within(Duration::from_millis(200)).await);

    // Another epoch cannot be recovered: the client must reload.
    let mut stale = server.user("stale").await;
    let reply = stale
        .ok(
            "subscribe",
            json!({"channel": "talk:rec", "since": {"offset": 3, "epoch": "another"}}),
        )
        .await;
    assert_eq!(reply["recovered"], false);
    assert!(
        stale.no_push_within(Duration::from_millis(200)).await,
        "nothing replayed"
    );
    // An in-memory channel recovers only when nothing was missed.
    let mut memory = server.user("mem").await;
    let position = memory.ok("subscribe", json!({"channel": "chat:m"})).await;
    memory.ok("unsubscribe", json!({"channel": "chat:m"})).await;
    let reply = memory
        .ok("subscribe", json!({"channel": "chat:m", "since": {"offset": position["offset"], "epoch": position["epoch"]}}))
        .await;
    assert_eq!(reply["recovered"], true);
    server.stop().await;
}

async fn rate_limit_counts_every_connection_of_a_user(backend: Backend) {
    let server = start(backend).await;
    let mut tab1 = server.user("ann").await;
    let mut tab2 = server.user("ann").await;
    let mut sent = Vec::new();
    for n in 0..5 {
        let key = format!("a{n}");
        sent.push(
            tab1.ok(
                "message_send",
                json!({"channel": "limited:room", "text": key, "client_msg_id": key}),
            )
            .await,
        );
        send(&mut tab2, "limited:room", &format!("b{n}")).await;
    }
    let reply = tab2
        .call(
            "message_send",
            json!({"channel": "limited:room", "text": "one too many"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 429);
    let wait = reply["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 1000 && wait <= 6000, "{wait}");
    // A resend of a stored message is not a new message: over the limit it
    // still gets the stored message back, and it costs nothing.
    let again = tab2
        .ok(
            "message_send",
            json!({"channel": "limited:room", "text": "a0", "client_msg_id": "a0"}),
        )
        .await;
    assert_eq!(again["id"], sent[0]["id"]);
    assert_eq!(again["offset"], sent[0]["offset"]);
    assert_eq!(
        tab2.error_code(
            "message_send",
            json!({"channel": "limited:room", "text": "a5", "client_msg_id": "a5"})
        )
        .await,
        429
    );
    // Another user has a bucket of their own.
    let mut bob = server.user("bob").await;
    send(&mut bob, "limited:room", "hi").await;
    // Slow mode: one message per user per channel per 30 s.
    send(&mut bob, "slow:room", "first").await;
    let reply = bob
        .call(
            "message_send",
            json!({"channel": "slow:room", "text": "second"}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 429);
    assert!(reply["error"]["retry_after_ms"].as_u64().unwrap() > 25_000);
    send(&mut bob, "slow:other", "another channel").await;
    // The HTTP API answers 429 with Retry-After.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/channels/limited:room/messages"))
        .bearer_auth(server.token("ann"))
        .json(&json!({"text": "over http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    server.stop().await;
}

async fn http_history_and_messages(backend: Backend) {
    let server = start(backend).await;
    let mut reader = server.user("reader").await;
    reader
        .ok("subscribe", json!({"channel": "talk:http"}))
        .await;
    let (status, sent) = server
        .api(
            Method::POST,
            "/api/v1/messages",
            Some(json!({"channel": "talk:http", "text": "from the backend"})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["author"], "system");
    assert_eq!(reader.push().await["data"]["text"], "from the backend");

    let response = reqwest::Client::new()
        .post(server.url("/api/v1/channels/talk:http/messages"))
        .bearer_auth(server.token("ann"))
        .json(&json!({"text": "from a user", "client_msg_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let posted: Value = response.json().await.unwrap();
    assert_eq!(posted["author"], "ann");

    let response = reqwest::Client::new()
        .get(server.url("/api/v1/channels/talk:http/messages?limit=10&order=oldest_first"))
        .bearer_auth(server.token("ann"))
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["messages"][1]["text"], "from a user");
    let (status, history) = server
        .api(
            Method::GET,
            "/api/v1/history?channel=talk:http&limit=10",
            None,
        )
        .await;
    assert_eq!(
        (status, history["publications"].as_array().unwrap().len()),
        (200, 2)
    );

    let id = posted["id"].as_str().unwrap();
    let (status, deleted) = server
        .api(Method::DELETE, &format!("/api/v1/messages/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(deleted["deleted_at"].as_u64().is_some());
    let response = reqwest::Client::new()
        .get(server.url("/api/v1/channels/talk:http/messages"))
        .bearer_auth("not a token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = server
        .api(Method::GET, "/api/v1/history?channel=chat:x", None)
        .await;
    assert_eq!(status, 400);

    // A resend with the same client_msg_id created nothing: 200 with the
    // stored message, where the first send got 201, on both routes.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/channels/talk:http/messages"))
        .bearer_auth(server.token("ann"))
        .json(&json!({"text": "from a user", "client_msg_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let resent: Value = response.json().await.unwrap();
    assert_eq!(resent["id"], posted["id"]);
    let body = json!({"channel": "talk:http", "user": "bob", "text": "k", "client_msg_id": "k"});
    let (status, first) = server
        .api(Method::POST, "/api/v1/messages", Some(body.clone()))
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = server
        .api(Method::POST, "/api/v1/messages", Some(body))
        .await;
    assert_eq!((status, &again), (200, &first));
    server.stop().await;
}
