//! The Pusher session's frame parser, `pusher::incoming::parse_frame`: any
//! text is a message or a `pusher:error` the session answers with.

use parley_server::pusher::incoming::{ClientMessage, FrameError, parse_frame};
use parley_server::pusher::push::Event;
use serde_json::Value;

use super::seeds::Seeds;
use super::{Runs, TEST_TIME};

#[test]
fn pusher_frame() {
    let seeds = Seeds::load(
        "pusher_frame",
        &[b"pusher:", b"client-", b"private-", b"presence-"],
    );
    let runs = Runs::new("pusher_frame");
    bolero::check!(name = "pusher_frame")
        .with_test_time(TEST_TIME)
        .for_each(|input: &[u8]| {
            runs.count();
            frame(input);
            frame(&seeds.mutate(input));
        });
}

fn frame(bytes: &[u8]) {
    // As for native frames: the socket refuses text that is not UTF-8.
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    match parse_frame(text) {
        Ok(ClientMessage::ClientEvent { event, .. }) => {
            assert!(event.starts_with("client-"), "{text:?}");
        }
        Ok(ClientMessage::Subscribe(data)) => {
            // A frame with escapes no Rust string holds is no `Value`.
            if let Some(event) = event_of(text) {
                assert_eq!(
                    event,
                    "pusher:subscribe",
                    "{text:?} for {:?}",
                    data.channel()
                );
            }
        }
        Ok(ClientMessage::Unsubscribe(data)) => {
            // A frame with escapes no Rust string holds is no `Value`.
            if let Some(event) = event_of(text) {
                assert_eq!(
                    event,
                    "pusher:unsubscribe",
                    "{text:?} for {:?}",
                    data.channel()
                );
            }
        }
        Ok(ClientMessage::Ping | ClientMessage::Pong | ClientMessage::Signin(_)) => {}
        Err(error) => {
            let message = error.message();
            assert!(!message.is_empty());
            // The answer, a `pusher:error` as the session builds it, is JSON
            // that carries the message whatever the frame held.
            let data = serde_json::json!({"code": null, "message": message});
            let reply = Event {
                event: "pusher:error",
                channel: None,
                data: &data,
                user_id: None,
            }
            .frame();
            let reply: Value = serde_json::from_str(reply.as_str()).expect("pusher:error is JSON");
            assert_eq!(reply["data"]["message"].as_str(), Some(&*message));
            if error == FrameError::NotAnEvent {
                refused_only_what_is_not_an_event(text);
            }
        }
    }
}

/// The event name a generic JSON reader sees.
fn event_of(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    value["event"].as_str().map(str::to_owned)
}

/// A frame refused as "not an event" is not one: its canonical form (an
/// object with a string `event`, a string or absent `channel`) would parse.
fn refused_only_what_is_not_an_event(text: &str) {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let is_event = value.is_object()
        && value["event"].is_string()
        && (value["channel"].is_null() || value["channel"].is_string());
    if is_event {
        let canonical = value.to_string();
        assert_ne!(
            parse_frame(&canonical).err(),
            Some(FrameError::NotAnEvent),
            "{text:?} is an event but was refused as none"
        );
    }
}
