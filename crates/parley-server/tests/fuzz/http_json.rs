//! The HTTP API's JSON bodies: arbitrary bodies on each JSON route of
//! `/api/v1`, authenticated with the API key, get no 5xx, and every 4xx is
//! the API's JSON error.

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::http::{Request, header};

use super::common::API_KEY;
use super::in_process::InProcess;
use super::seeds::Seeds;
use super::{Runs, TEST_TIME};

/// The routes that read a JSON body, with paths that name real things in
/// the tests' configuration.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/publish"),
    ("POST", "/api/v1/broadcast"),
    ("POST", "/api/v1/batch"),
    ("POST", "/api/v1/disconnect"),
    ("POST", "/api/v1/presence/heartbeat"),
    ("POST", "/api/v1/messages"),
    ("POST", "/api/v1/channels/talk:general/messages"),
    ("PATCH", "/api/v1/messages/1"),
    ("POST", "/api/v1/channels/talk:general/read"),
    ("POST", "/api/v1/rooms"),
    ("POST", "/api/v1/rooms/talk:fuzz/members"),
    ("POST", "/api/v1/moderation/mute"),
    ("POST", "/api/v1/moderation/unmute"),
    ("POST", "/api/v1/moderation/ban"),
    ("POST", "/api/v1/moderation/unban"),
    ("POST", "/api/v1/reports"),
    ("POST", "/api/v1/reports/1/resolve"),
];

#[test]
fn http_json() {
    // A panic fails the test, and nothing looks at the server after one.
    let server = AssertUnwindSafe(InProcess::start());
    let seeds = Seeds::load(
        "http_json",
        &[
            b"talk:general",
            b"default:news",
            b"\"user\":\"u1\"",
            b"POST /api/v1/",
        ],
    );
    let runs = Runs::new("http_json");
    bolero::check!(name = "http_json")
        .with_test_time(TEST_TIME)
        .for_each(|input: &[u8]| {
            runs.count();
            request(&server, input);
            request(&server, &seeds.mutate(input));
        });
}

/// Reads `input` as a route line (`POST /api/v1/publish`) and a body, as the
/// corpus files are written; input without one picks a route by its first
/// byte.
fn request(server: &InProcess, input: &[u8]) {
    let (method, path, body) = match route_line(input) {
        Some((method, path, body)) => (method, path, body),
        None => {
            let (method, path) =
                ROUTES[usize::from(input.first().copied().unwrap_or(0)) % ROUTES.len()];
            (method, path.to_owned(), input.get(1..).unwrap_or_default())
        }
    };
    // A target that cannot be a request line never reaches the router.
    let Ok(request) = Request::builder()
        .method(method)
        .uri(&path)
        .header(header::AUTHORIZATION, format!("Bearer {API_KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let answer = server.call(request);
    answer.assert_clear(&format!(
        "{method} {path} {:?}",
        String::from_utf8_lossy(body)
    ));
}

fn route_line(input: &[u8]) -> Option<(&'static str, String, &[u8])> {
    let end = input.iter().position(|&byte| byte == b'\n')?;
    let line = std::str::from_utf8(&input[..end]).ok()?;
    let (method, path) = line.split_once(' ')?;
    let method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .into_iter()
        .find(|known| *known == method)?;
    path.starts_with("/api/v1/")
        .then(|| (method, path.to_owned(), &input[end + 1..]))
}
