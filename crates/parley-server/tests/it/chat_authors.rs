//! Author profiles on messages and channel totals over the real wire, each
//! test on SQLite and on PostgreSQL: a message carries the name and avatar
//! of its sender's token (or of the backend sending as a user), never what
//! a client writes; a page counts the channel's messages on request.

use crate::common;

use common::chat::{assert_error, moderator_token};
use common::{
    API_KEY, Backend, Client, SECRET, TestServer, api_call, on_both_backends, push_named,
    token_with,
};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    name_and_avatar_come_from_the_token_everywhere_the_message_shows,
    a_client_cannot_forge_its_profile,
    a_new_profile_applies_to_later_messages_only,
    a_backend_sending_as_a_user_gives_the_profile,
    a_page_with_total_matches_the_count_after_sends_and_deletes,
);

const CHANNEL: &str = "talk:authors";

/// A token for `user` with a display name and an avatar.
fn profile_token(user: &str, name: &str) -> String {
    token_with(SECRET, user, |claims| {
        claims.name = Some(name.to_owned());
        claims.avatar = Some(avatar(user));
    })
}

fn avatar(user: &str) -> String {
    format!("https://cdn.example/{user}.png")
}

/// A native client connected with `token`.
async fn connect(server: &TestServer, token: &str) -> Client {
    let mut client = Client::open(&server.ws_url()).await;
    client.ok("connect", json!({"token": token})).await;
    client
}

/// The `author_name` of each message of a page, in its order.
fn names(page: &Value) -> Vec<Option<&str>> {
    page["messages"]
        .as_array()
        .expect("a page of messages")
        .iter()
        .map(|message| message["author_name"].as_str())
        .collect()
}

async fn name_and_avatar_come_from_the_token_everywhere_the_message_shows(backend: Backend) {
    let server = common::start(backend).await;
    let mut reader = server.user("reader").await;
    reader.ok("subscribe", json!({"channel": CHANNEL})).await;
    let mut alice = connect(&server, &profile_token("alice", "Alice Liddell")).await;

    // The acknowledgement and the push.
    let ack = alice
        .ok(
            "message_send",
            json!({"channel": CHANNEL, "text": "hello there"}),
        )
        .await;
    assert_eq!(ack["author"], "alice");
    assert_eq!(ack["author_name"], "Alice Liddell");
    assert_eq!(ack["author_avatar"], avatar("alice"));
    let push = push_named(&mut reader, "message_created").await;
    assert_eq!(push["data"], ack);

    // A reply from another profile; the parent's update keeps its own.
    let mut bob = connect(&server, &profile_token("bob", "Bob")).await;
    let reply = bob
        .ok(
            "message_send",
            json!({"channel": CHANNEL, "text": "hello back", "reply_to": ack["id"]}),
        )
        .await;
    assert_eq!(reply["author_name"], "Bob");
    let updated = push_named(&mut reader, "message_updated").await;
    assert_eq!(updated["data"]["author_name"], "Alice Liddell");

    // A page of messages, the thread, the search and the stream's history.
    let page = reader
        .ok(
            "messages",
            json!({"channel": CHANNEL, "order": "oldest_first"}),
        )
        .await;
    assert_eq!(names(&page), vec![Some("Alice Liddell"), Some("Bob")]);
    assert_eq!(page["messages"][1]["author_avatar"], avatar("bob"));
    let thread = reader.ok("thread", json!({"message_id": ack["id"]})).await;
    assert_eq!(thread["parent"]["author_name"], "Alice Liddell");
    assert_eq!(thread["replies"][0]["author_name"], "Bob");
    assert_eq!(thread["replies"][0]["author_avatar"], avatar("bob"));
    let found = reader
        .ok("search", json!({"query": "hello", "channel": CHANNEL}))
        .await;
    assert_eq!(names(&found), vec![Some("Bob"), Some("Alice Liddell")]);
    let history = reader.ok("history", json!({"channel": CHANNEL})).await;
    let created: Vec<&Value> = history["publications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|publication| publication["kind"] == "message_created")
        .map(|publication| &publication["data"])
        .collect();
    assert_eq!(created.len(), 2, "{history}");
    assert_eq!(created[0]["author_name"], "Alice Liddell");
    assert_eq!(created[1]["author_avatar"], avatar("bob"));

    // Over HTTP, for a backend and for a user's token alike.
    let path = format!("/api/v1/channels/{CHANNEL}/messages?order=oldest_first");
    let (status, page) = server.api(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), vec![Some("Alice Liddell"), Some("Bob")]);

    // A token without a profile: the fields are absent.
    let mut plain = server.user("carol").await;
    let ack = plain
        .ok("message_send", json!({"channel": CHANNEL, "text": "plain"}))
        .await;
    assert!(ack.get("author_name").is_none(), "{ack}");
    assert!(ack.get("author_avatar").is_none(), "{ack}");
    server.stop().await;
}

async fn a_client_cannot_forge_its_profile(backend: Backend) {
    let server = common::start(backend).await;
    let token = profile_token("alice", "Alice");
    let mut alice = connect(&server, &token).await;

    // What a client writes in `meta` stays in `meta`.
    let forged_meta = json!({"author_name": "The Queen", "author_avatar": "https://evil.example/q.png",
        "name": "The Queen", "avatar": "https://evil.example/q.png"});
    let ack = alice
        .ok(
            "message_send",
            json!({"channel": CHANNEL, "text": "hi", "meta": forged_meta}),
        )
        .await;
    assert_eq!(ack["author_name"], "Alice");
    assert_eq!(ack["author_avatar"], avatar("alice"));
    assert_eq!(ack["meta"], forged_meta);

    // The profile fields themselves are refused from a user, natively and
    // over HTTP with the user's token.
    for field in ["author_name", "author_avatar"] {
        let mut params = json!({"channel": CHANNEL, "text": "hi"});
        params[field] = json!("The Queen");
        assert_eq!(alice.error_code("message_send", params.clone()).await, 400);
        let path = format!("/api/v1/channels/{CHANNEL}/messages");
        let answer = api_call(&server.url(&path), Method::POST, Some(&token), Some(params)).await;
        assert_error(answer, 400);
    }

    // Nothing forged was stored.
    let page = alice
        .ok("messages", json!({"channel": CHANNEL, "limit": 100}))
        .await;
    assert_eq!(names(&page), vec![Some("Alice")]);
    server.stop().await;
}

async fn a_new_profile_applies_to_later_messages_only(backend: Backend) {
    let server = common::start(backend).await;
    let mut alice = connect(&server, &profile_token("alice", "Alice")).await;
    let first = alice
        .ok("message_send", json!({"channel": CHANNEL, "text": "one"}))
        .await;
    // A refreshed token renames the connection's later messages.
    alice
        .ok(
            "refresh",
            json!({"token": profile_token("alice", "Alice B.")}),
        )
        .await;
    alice
        .ok("message_send", json!({"channel": CHANNEL, "text": "two"}))
        .await;
    // A new connection, and the user's token over HTTP.
    let mut again = connect(&server, &profile_token("alice", "Alice C.")).await;
    again
        .ok("message_send", json!({"channel": CHANNEL, "text": "three"}))
        .await;
    let path = format!("/api/v1/channels/{CHANNEL}/messages");
    let (status, sent) = api_call(
        &server.url(&path),
        Method::POST,
        Some(&profile_token("alice", "Alice D.")),
        Some(json!({"text": "four"})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["author_name"], "Alice D.");

    // An edit under the new name keeps the name the message was sent with.
    let edited = again
        .ok(
            "message_edit",
            json!({"id": first["id"], "text": "one, edited"}),
        )
        .await;
    assert_eq!(edited["author_name"], "Alice");
    let page = again
        .ok(
            "messages",
            json!({"channel": CHANNEL, "order": "oldest_first"}),
        )
        .await;
    assert_eq!(
        names(&page),
        vec![
            Some("Alice"),
            Some("Alice B."),
            Some("Alice C."),
            Some("Alice D.")
        ]
    );
    server.stop().await;
}

async fn a_backend_sending_as_a_user_gives_the_profile(backend: Backend) {
    let server = common::start(backend).await;
    let mut reader = server.user("reader").await;
    reader.ok("subscribe", json!({"channel": CHANNEL})).await;
    let path = format!("/api/v1/channels/{CHANNEL}/messages");
    let (status, sent) = server
        .api(
            Method::POST,
            &path,
            Some(json!({"user": "carol", "text": "from the backend",
                "author_name": "Carol", "author_avatar": avatar("carol")})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["author"], "carol");
    assert_eq!(sent["author_name"], "Carol");
    assert_eq!(sent["author_avatar"], avatar("carol"));
    assert_eq!(
        push_named(&mut reader, "message_created").await["data"],
        sent
    );

    // The other send route, and a backend that gives no profile.
    let (status, sent) = server
        .api(
            Method::POST,
            "/api/v1/messages",
            Some(json!({"channel": CHANNEL, "user": "dan", "text": "named",
                "author_name": "Dan"})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["author_name"], "Dan");
    assert!(sent.get("author_avatar").is_none(), "{sent}");
    let (_, sent) = server
        .api(
            Method::POST,
            &path,
            Some(json!({"user": "erin", "text": "unnamed"})),
        )
        .await;
    assert!(sent.get("author_name").is_none(), "{sent}");

    // Bad profiles are refused.
    for body in [
        json!({"user": "carol", "text": "x", "author_name": ""}),
        json!({"user": "carol", "text": "x", "author_name": "n".repeat(257)}),
        json!({"user": "carol", "text": "x", "author_avatar": "a".repeat(2049)}),
        json!({"user": "carol", "text": "x", "author_name": 7}),
    ] {
        assert_error(server.api(Method::POST, &path, Some(body)).await, 400);
    }
    server.stop().await;
}

async fn a_page_with_total_matches_the_count_after_sends_and_deletes(backend: Backend) {
    let server = common::start(backend).await;
    let mut alice = server.user("alice").await;
    let mut sent = Vec::new();
    for n in 0..6 {
        let message = alice
            .ok(
                "message_send",
                json!({"channel": CHANNEL, "text": format!("m{n}")}),
            )
            .await;
        sent.push(message["id"].as_str().unwrap().to_owned());
    }
    let mut bob = server.user("bob").await;
    bob.ok(
        "message_send",
        json!({"channel": CHANNEL, "text": "a reply", "reply_to": sent[0]}),
    )
    .await;
    // Another channel's messages are not counted here.
    bob.ok(
        "message_send",
        json!({"channel": "talk:other", "text": "x"}),
    )
    .await;

    // The author soft-deletes one; a moderator hard-deletes another, and
    // the backend soft-deletes a third.
    alice.ok("message_delete", json!({"id": sent[1]})).await;
    let mut moderator = Client::open(&server.ws_url()).await;
    moderator
        .ok("connect", json!({"token": moderator_token("mod")}))
        .await;
    moderator
        .ok("message_delete", json!({"id": sent[2], "hard": true}))
        .await;
    let (status, _) = server
        .api(
            Method::DELETE,
            &format!("/api/v1/messages/{}", sent[3]),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // 7 sent, 3 deleted: the total is 4, as many as the live messages of
    // the full page.
    let page = alice
        .ok(
            "messages",
            json!({"channel": CHANNEL, "limit": 100, "total": true}),
        )
        .await;
    let live = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message.get("deleted_at").is_none())
        .count();
    assert_eq!(live, 4, "{page}");
    assert_eq!(page["total"], 4, "{page}");
    // A short page still counts the whole channel; without asking, no total.
    let short = alice
        .ok(
            "messages",
            json!({"channel": CHANNEL, "limit": 1, "total": true}),
        )
        .await;
    assert_eq!(short["total"], 4);
    let plain = alice.ok("messages", json!({"channel": CHANNEL})).await;
    assert!(plain.get("total").is_none(), "{plain}");
    let history = alice
        .ok("history", json!({"channel": CHANNEL, "total": true}))
        .await;
    assert_eq!(history["total"], 4, "{history}");

    // Over HTTP: the page of messages and the stream's history.
    let (status, page) = server
        .api(
            Method::GET,
            &format!("/api/v1/channels/{CHANNEL}/messages?limit=2&total=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 4);
    let (status, history) = server
        .api(
            Method::GET,
            &format!("/api/v1/history?channel={CHANNEL}&total=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["total"], 4);
    let (_, page) = server
        .api(
            Method::GET,
            &format!("/api/v1/channels/{CHANNEL}/messages"),
            None,
        )
        .await;
    assert!(page.get("total").is_none(), "{page}");

    // A send moves it again; bad values and channels without messages are
    // refused.
    alice
        .ok("message_send", json!({"channel": CHANNEL, "text": "last"}))
        .await;
    let (_, page) = api_call(
        &server.url(&format!("/api/v1/channels/{CHANNEL}/messages?total=true")),
        Method::GET,
        Some(API_KEY),
        None,
    )
    .await;
    assert_eq!(page["total"], 5);
    assert_error(
        server
            .api(
                Method::GET,
                &format!("/api/v1/channels/{CHANNEL}/messages?total=yes"),
                None,
            )
            .await,
        400,
    );
    assert_eq!(
        alice
            .error_code("history", json!({"channel": "feed:x", "total": true}))
            .await,
        400
    );
    assert_eq!(
        alice
            .error_code("messages", json!({"channel": CHANNEL, "total": "yes"}))
            .await,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_profiles_and_totals() {
    let server = TestServer::start().await;
    let document: Value = reqwest::get(server.url("/api/v1/openapi.json"))
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("the document is JSON");
    let schemas = &document["components"]["schemas"];
    for field in ["author_name", "author_avatar"] {
        assert!(
            schemas["Message"]["properties"].get(field).is_some(),
            "Message lacks {field}"
        );
        assert!(
            schemas["SendRequest"]["properties"].get(field).is_some(),
            "SendRequest lacks {field}"
        );
    }
    assert!(schemas["MessagePage"]["properties"].get("total").is_some());
    assert!(schemas["HistoryPage"]["properties"].get("total").is_some());
    for path in ["/api/v1/history", "/api/v1/channels/{channel}/messages"] {
        let total = document["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|parameter| parameter["name"] == "total")
            .unwrap_or_else(|| panic!("{path} lacks total"))
            .clone();
        assert_eq!(total["in"], "query");
        assert_ne!(total["required"], true, "{path}: {total}");
    }
    server.stop().await;
}
