//! The native protocol's command parser, `wire::parse_command` and
//! `wire::params`: any text gets a command or a 400 error reply that keeps
//! the id when the id could be read.

use std::collections::BTreeMap;

use parley_server::native::codes::{BAD_REQUEST, ErrorReply};
use parley_server::native::wire::{Command, error_frame, params, parse_command};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::seeds::Seeds;
use super::{Runs, TEST_TIME};

#[test]
fn native_frame() {
    let seeds = Seeds::load("native_frame", &[]);
    let runs = Runs::new("native_frame");
    bolero::check!(name = "native_frame")
        .with_test_time(TEST_TIME)
        .for_each(|input: &[u8]| {
            runs.count();
            frame(input);
            frame(&seeds.mutate(input));
        });
}

/// Parameters shaped as real methods' are: the typed fields are where a
/// decode can go wrong.
#[derive(Deserialize)]
#[allow(dead_code)]
struct TypedParams<'a> {
    channel: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    users: Vec<String>,
}

fn frame(bytes: &[u8]) {
    // A WebSocket text frame that is not UTF-8 never reaches the parser: the
    // socket's read fails and the connection ends. What a lossy decode of
    // those bytes makes is still text a client could send, so check it.
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    match parse_command(text) {
        Ok(command) => command_agrees(text, &command),
        Err((id, error)) => {
            assert_eq!(error.code, BAD_REQUEST, "{text:?}: {}", error.message);
            let reply: Value = serde_json::from_str(error_frame(id, &error).as_str())
                .expect("an error reply is JSON");
            assert_eq!(reply["error"]["code"], 400);
            assert_eq!(reply["id"].as_u64(), id);
            if id.is_none() {
                refused_only_what_is_not_a_command(text);
            }
        }
    }
}

/// A parsed command is what a generic JSON reader sees, and its parameters
/// decode or get a 400.
fn command_agrees(text: &str, command: &Command<'_>) {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // The envelope keeps the parameters as raw JSON, checked by the
        // grammar only, where a `Value` also needs whole surrogate pairs in
        // strings (`"\ud83d-"`) and numbers that fit an f64 (`1e9995`).
        // Such parameters are refused when decoded (asserted here), and
        // relayed as they are where a method forwards raw data.
        Err(error) if beyond_the_grammar(&error) => {
            for error in decoded_params(command) {
                assert_eq!(error.code, BAD_REQUEST, "{text:?}: {}", error.message);
            }
            return;
        }
        Err(error) => panic!("{text:?} parsed as a command but is not JSON: {error}"),
    };
    assert_eq!(value["id"].as_u64(), Some(command.id), "{text:?}");
    assert_eq!(value["method"].as_str(), Some(&*command.method), "{text:?}");
    for error in decoded_params(command) {
        assert_eq!(error.code, BAD_REQUEST, "{text:?}: {}", error.message);
    }
}

/// Whether `error` is about a value the JSON grammar allows but a `Value`
/// cannot hold.
fn beyond_the_grammar(error: &serde_json::Error) -> bool {
    let message = error.to_string();
    message.contains("escape") || message.contains("number out of range")
}

/// The errors of decoding the command's parameters as methods do.
fn decoded_params(command: &Command<'_>) -> Vec<ErrorReply> {
    [
        params::<Value>(command.params).map(drop),
        params::<BTreeMap<String, Value>>(command.params).map(drop),
        params::<TypedParams<'_>>(command.params).map(drop),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect()
}

/// When no id could be read, the text really holds no command: its
/// canonical form, without duplicate keys, is refused too.
fn refused_only_what_is_not_a_command(text: &str) {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let is_command = value.is_object() && value["id"].is_u64() && value["method"].is_string();
    if is_command {
        let canonical = value.to_string();
        assert!(
            parse_command(&canonical).is_ok(),
            "{text:?} is a command but was refused"
        );
    }
}
