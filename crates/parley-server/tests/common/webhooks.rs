//! A webhook receiver for the tests: a real HTTP server on 127.0.0.1:0
//! that checks `X-Pusher-Key` and `X-Pusher-Signature`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use parley_server::pusher::sign::hmac_hex;
use serde_json::Value;
use tokio::sync::mpsc;

use super::SECRET;
use super::pusher::KEY;

/// A webhook receiver on 127.0.0.1:0 that answers 500 to its first
/// `failures` requests and 200 after, and hands over every valid body.
pub struct Receiver {
    pub url: String,
    bodies: mpsc::UnboundedReceiver<(Instant, Value)>,
    pub failures: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct ReceiverState {
    bodies: mpsc::UnboundedSender<(Instant, Value)>,
    failures: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    /// How long each answer takes.
    delay: Duration,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state.requests.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(state.delay).await;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let text = std::str::from_utf8(&body).expect("a UTF-8 body");
    assert_eq!(header("x-pusher-key"), KEY);
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        header("x-pusher-signature"),
        hmac_hex(SECRET, text),
        "the signature is the HMAC-SHA256 of the body"
    );
    let failing = state
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let _ = state
        .bodies
        .send((Instant::now(), serde_json::from_str(text).unwrap()));
    StatusCode::OK
}

impl Receiver {
    pub async fn start(failures: usize) -> Self {
        Self::answering_after(failures, Duration::ZERO).await
    }

    pub async fn answering_after(failures: usize, delay: Duration) -> Self {
        let (sender, bodies) = mpsc::unbounded_channel();
        let failures = Arc::new(AtomicUsize::new(failures));
        let requests = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState {
            bodies: sender,
            failures: failures.clone(),
            requests: requests.clone(),
            delay,
        };
        let router = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            bodies,
            failures,
            requests,
        }
    }

    /// The next accepted body.
    pub async fn body(&mut self) -> (Instant, Value) {
        tokio::time::timeout(Duration::from_secs(20), self.bodies.recv())
            .await
            .expect("a webhook in time")
            .expect("the receiver runs")
    }

    /// Accepted events until one named `name` (included).
    pub async fn events_until(&mut self, name: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let (_, body) = self.body().await;
            assert!(body["time_ms"].as_i64().is_some(), "{body}");
            let batch = body["events"].as_array().unwrap().clone();
            let done = batch.iter().any(|event| event["name"] == name);
            events.extend(batch);
            if done {
                return events;
            }
        }
    }

    pub async fn nothing_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.bodies.recv())
            .await
            .is_err()
    }
}
