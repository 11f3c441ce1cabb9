//! Room roles in moderation, each test on SQLite and on PostgreSQL: a
//! room's moderators moderate their room (and only it) without any token
//! role, alongside token moderators.

use crate::common;

use common::chat::start_with_rooms as start;
use common::{Backend, Client, api_call, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_room_moderator_mutes_and_hides_in_their_room_only,
    a_room_owner_bans_over_http_in_their_room_only,
    search_pins_and_unread_show_only_what_messages_shows,
);

/// A group room created by `owner`, with `moderators` and `members`.
async fn room(owner: &mut Client, moderators: &[&str], members: &[&str]) -> String {
    let created = owner
        .ok(
            "room_create",
            json!({
                "kind": "group",
                "namespace": "team",
                "members": members,
                "moderators": moderators,
            }),
        )
        .await;
    created["room"]["channel"].as_str().unwrap().to_owned()
}

async fn send(client: &mut Client, channel: &str, text: &str) -> String {
    let sent = client
        .ok("message_send", json!({"channel": channel, "text": text}))
        .await;
    sent["id"].as_str().unwrap().to_owned()
}

fn find<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["id"] == id)
        .expect("the message is in the page")
}

async fn a_room_moderator_mutes_and_hides_in_their_room_only(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;
    // Bob moderates `ours` and is a plain member of `other`; his token has
    // no role.
    let ours = room(&mut alice, &["bob"], &["carol"]).await;
    let other = room(&mut alice, &[], &["bob", "carol"]).await;
    let in_ours = send(&mut carol, &ours, "first in ours").await;
    let in_other = send(&mut carol, &other, "first in other").await;

    // A plain member moderates nothing.
    assert_eq!(
        carol
            .error_code("mute", json!({"user": "bob", "channel": ours}))
            .await,
        403
    );

    // In his room, Bob mutes Carol: her sends there are refused, not in the
    // other room.
    let mute = bob
        .ok("mute", json!({"user": "carol", "channel": ours}))
        .await;
    assert_eq!(mute["kind"], "mute");
    assert_eq!(
        carol
            .error_code(
                "message_send",
                json!({"channel": ours, "text": "still here?"})
            )
            .await,
        423
    );
    send(&mut carol, &other, "the other room still hears me").await;
    bob.ok("unmute", json!({"user": "carol", "channel": ours}))
        .await;
    send(&mut carol, &ours, "back").await;

    // Not in the other room, nor for the whole app.
    assert_eq!(
        bob.error_code("mute", json!({"user": "carol", "channel": other}))
            .await,
        403
    );
    assert_eq!(
        bob.error_code("mute", json!({"user": "carol"})).await,
        403,
        "app-wide restrictions stay with token moderators"
    );

    // Bob hides Carol's message in his room, and sees its text as a
    // moderator there; Carol, a member, sees it concealed.
    let hidden = bob.ok("message_hide", json!({"id": in_ours})).await;
    assert_eq!(hidden["status"], "hidden");
    let page = bob.ok("messages", json!({"channel": ours})).await;
    assert_eq!(find(&page, &in_ours)["text"], "first in ours");
    let page = carol.ok("messages", json!({"channel": ours})).await;
    assert_eq!(find(&page, &in_ours)["text"], "");
    assert_eq!(find(&page, &in_ours)["status"], "hidden");

    // The message of the other room is not his to hide.
    assert_eq!(
        bob.error_code("message_hide", json!({"id": in_other}))
            .await,
        403
    );
    let page = carol.ok("messages", json!({"channel": other})).await;
    assert_eq!(find(&page, &in_other)["text"], "first in other");

    // The owner moderates too.
    alice.ok("message_unhide", json!({"id": in_ours})).await;
    let page = carol.ok("messages", json!({"channel": ours})).await;
    assert_eq!(find(&page, &in_ours)["text"], "first in ours");
}

async fn a_room_owner_bans_over_http_in_their_room_only(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let ours = room(&mut alice, &[], &["carol"]).await;
    let theirs = room(&mut bob, &[], &["carol", "alice"]).await;

    let url = server.url("/api/v1/moderation/ban");
    let token = server.token("alice");
    let ban = |channel: String| {
        api_call(
            &url,
            Method::POST,
            Some(&token),
            Some(json!({"user": "carol", "channel": channel})),
        )
    };
    let (status, body) = ban(ours).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = ban(theirs).await;
    assert_eq!(status, 403, "alice is only a member of bob's room");
}

fn ids(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn unread_in(client: &mut Client, channel: &str) -> Value {
    let unread = client.ok("unread", json!({})).await;
    unread["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["channel"] == channel)
        .cloned()
        .unwrap_or(json!({"unread": 0, "mentions": 0}))
}

async fn search_pins_and_unread_show_only_what_messages_shows(backend: Backend) {
    let server = start(backend).await;
    let mut alice = server.user("alice").await;
    let mut bob = server.user("bob").await;
    let mut carol = server.user("carol").await;
    let mut dave = server.user("dave").await;
    // Alice owns the room (and moderates it); Bob shadow-muted, Carol
    // blocked by Dave, one of Alice's messages hidden.
    let ours = room(&mut alice, &[], &["bob", "carol", "dave"]).await;
    alice
        .ok(
            "mute",
            json!({"user": "bob", "channel": ours, "shadow": true}),
        )
        .await;
    dave.ok("block", json!({"user": "carol"})).await;
    let plain = send(&mut alice, &ours, "banana plain").await;
    let before = unread_in(&mut dave, &ours).await["unread"].clone();
    let shadow = bob
        .ok(
            "message_send",
            json!({"channel": ours, "text": "banana shadow", "mentions": ["dave"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The shadow message counts for no one else, nor mentions them.
    let after = unread_in(&mut dave, &ours).await;
    assert_eq!(after["unread"], before);
    assert_eq!(after["mentions"], 0);
    let blocked = carol
        .ok(
            "message_send",
            json!({"channel": ours, "text": "banana blocked", "mentions": ["dave"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        unread_in(&mut dave, &ours).await["mentions"],
        0,
        "a blocked user's mention is not counted"
    );
    let hidden = send(&mut alice, &ours, "banana hidden").await;
    alice.ok("message_hide", json!({"id": hidden})).await;

    // Dave's search finds what his `messages` shows, and nothing else.
    let page = dave.ok("messages", json!({"channel": ours})).await;
    let visible = ids(&page, "messages");
    assert!(visible.contains(&plain) && visible.contains(&hidden));
    assert!(!visible.contains(&shadow) && !visible.contains(&blocked));
    for params in [
        json!({"query": "banana", "channel": ours}),
        json!({"query": "banana"}),
    ] {
        let found = dave.ok("search", params).await;
        let found_ids = ids(&found, "messages");
        assert!(found_ids.iter().all(|id| visible.contains(id)), "{found}");
        assert!(found_ids.contains(&plain));
        let concealed = found["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|message| message["id"] == hidden)
            .expect("the hidden message is listed, concealed");
        assert_eq!(concealed["text"], "");
    }
    // Bob finds his own shadow message; Alice, moderating, the hidden text.
    let found = bob.ok("search", json!({"query": "shadow"})).await;
    assert_eq!(ids(&found, "messages"), vec![shadow.clone()]);
    let found = alice
        .ok("search", json!({"query": "hidden", "channel": ours}))
        .await;
    assert_eq!(found["messages"][0]["text"], "banana hidden");

    // Hidden and shadow messages are not pinned; a blocked user's pin is
    // left out of the blocker's list.
    assert_eq!(
        alice
            .error_code(
                "message_pin",
                json!({"channel": ours, "message_id": hidden})
            )
            .await,
        404
    );
    assert_eq!(
        alice
            .error_code(
                "message_pin",
                json!({"channel": ours, "message_id": shadow})
            )
            .await,
        404
    );
    alice
        .ok(
            "message_pin",
            json!({"channel": ours, "message_id": blocked}),
        )
        .await;
    alice
        .ok("message_pin", json!({"channel": ours, "message_id": plain}))
        .await;
    let pins = dave.ok("pins", json!({"channel": ours})).await;
    let pinned: Vec<&str> = pins["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| pin["message"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(pinned, vec![plain.as_str()]);
}
