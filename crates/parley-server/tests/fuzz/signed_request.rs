//! The Pusher HTTP API's signed request: arbitrary query strings and bodies
//! on `POST /apps/{app_id}/events`. Two properties, checked on each input:
//!
//! - as sent (a query nobody signed, or a signature taken from another
//!   request), it is refused with a 4xx and the API's JSON error, never
//!   accepted and never a 5xx;
//! - signed as the Pusher server SDKs sign (the same parameters, the auth
//!   ones replaced, keys lowercased and sorted, `body_md5` of the body), it
//!   is never refused as unsigned (401) and never a 5xx; only a parameter
//!   given twice is refused, with 400.
//!
//! Together they hold the checked values and the signed string to one
//! reading of the query: the signature bypass of a repeated parameter was
//! a request the first property let through.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use md5::{Digest, Md5};
use parley_server::pusher::sign::hmac_hex;
use reqwest::Url;

use super::common::SECRET;
use super::in_process::InProcess;
use super::seeds::Seeds;
use super::{Runs, TEST_TIME};

const PATH: &str = "/apps/main/events";
const KEY: &str = "main-key";

#[test]
fn signed_request() {
    let server = AssertUnwindSafe(InProcess::start());
    let seeds = Seeds::load(
        "signed_request",
        &[
            b"auth_signature=",
            b"auth_timestamp=",
            b"body_md5=",
            b"&AUTH_KEY=main-key",
            b"\"channels\":[\"news\"]",
        ],
    );
    let runs = Runs::new("signed_request");
    bolero::check!(name = "signed_request")
        .with_test_time(TEST_TIME)
        .for_each(|input: &[u8]| {
            runs.count();
            check(&server, input);
            check(&server, &seeds.mutate(input));
        });
}

/// Reads `input` as a query string, a newline and a body, as the corpus
/// files are written, and checks both properties.
fn check(server: &InProcess, input: &[u8]) {
    let (query, body) = match input.iter().position(|&byte| byte == b'\n') {
        Some(end) => (&input[..end], &input[end + 1..]),
        None => (input, &[][..]),
    };
    let query = String::from_utf8_lossy(query);
    let what = format!("{query:?} {:?}", String::from_utf8_lossy(body));

    // As sent: nothing unsigned gets through.
    if let Some(answer) = send(server, &query, body) {
        assert!(
            answer.status.is_client_error(),
            "an unsigned request was answered {}: {what}",
            answer.status
        );
        answer.assert_clear(&what);
    }

    // Signed as the SDKs sign: never refused as unsigned.
    let Some((signed_query, repeated)) = sign(&query, body) else {
        return;
    };
    let Some(answer) = send(server, &signed_query, body) else {
        return;
    };
    answer.assert_clear(&what);
    if repeated {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}");
    } else {
        assert_ne!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "a request signed as the SDKs sign was refused: {what} {:?}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

fn send(server: &InProcess, query: &str, body: &[u8]) -> Option<super::in_process::Answer> {
    let request = Request::builder()
        .method("POST")
        .uri(format!("{PATH}?{query}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .ok()?;
    Some(server.call(request))
}

/// The input's parameters without the auth ones, with a fresh
/// `auth_key`, `auth_timestamp`, `auth_version`, `body_md5` and
/// `auth_signature`; and whether a key (in any case) was given twice.
fn sign(query: &str, body: &[u8]) -> Option<(String, bool)> {
    let url = Url::parse(&format!("http://parley.test{PATH}?{query}")).ok()?;
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let mut repeated = false;
    for (key, value) in url.query_pairs() {
        let key = key.to_lowercase();
        if key.starts_with("auth_") || key == "body_md5" {
            continue;
        }
        repeated |= params.insert(key, value.into_owned()).is_some();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    params.insert("auth_key".into(), KEY.into());
    params.insert("auth_timestamp".into(), now.to_string());
    params.insert("auth_version".into(), "1.0".into());
    if !body.is_empty() {
        params.insert("body_md5".into(), hex::encode(Md5::digest(body)));
    }
    let signed = params
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let signature = hmac_hex(SECRET, &format!("POST\n{PATH}\n{signed}"));
    let mut out = Url::parse("http://parley.test/").ok()?;
    {
        let mut pairs = out.query_pairs_mut();
        for (key, value) in &params {
            pairs.append_pair(key, value);
        }
        // A repeated key stays repeated, to be refused.
        if repeated
            && let Some((key, value)) = params.iter().find(|(key, _)| !key.starts_with("auth_"))
        {
            pairs.append_pair(key, value);
        }
        pairs.append_pair("auth_signature", &signature);
    }
    Some((out.query()?.to_owned(), repeated))
}
