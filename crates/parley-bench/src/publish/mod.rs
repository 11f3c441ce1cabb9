//! Publishing through the server's HTTP API: kept-alive connections, each
//! sending paced requests that carry the publications due (one, or a batch
//! when several are due at once).
//!
//! - [`native_http`]: `POST /api/v1/publish` and `/api/v1/batch`.
//! - [`pusher_http`]: signed `POST /apps/{id}/events` and `/batch_events`.

pub mod native_http;
pub mod pusher_http;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::credentials::Credentials;
use crate::metrics::Tally;
use crate::pacing::Pacer;
use crate::payload;
use crate::protocol::{Protocol, excerpt};
use crate::target::Target;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One request to send: its URL and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The URL, with any signature in its query.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// The `Authorization` header, if the API wants one.
    pub authorization: Option<String>,
}

/// Builds the requests of one server API.
#[derive(Debug)]
enum Api {
    Native(native_http::NativeApi),
    Pusher(pusher_http::PusherApi),
}

/// A publisher through the HTTP API of the server under test.
#[derive(Debug)]
pub struct HttpPublisher {
    http: reqwest::Client,
    api: Api,
}

impl HttpPublisher {
    /// A publisher for `protocol`'s HTTP API; fails when a credential it
    /// needs is missing.
    pub fn new(
        protocol: Protocol,
        target: &Target,
        credentials: &Credentials,
        connections: usize,
    ) -> Result<Self, String> {
        let api = match protocol {
            Protocol::Native => {
                Api::Native(native_http::NativeApi::new(target, credentials.api_key()?))
            }
            Protocol::Pusher => Api::Pusher(pusher_http::PusherApi::new(
                target,
                &credentials.app_id,
                credentials.key()?,
                credentials.secret()?,
            )),
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections.max(1))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Self { http, api })
    }

    /// The most publications one request may carry.
    pub fn max_batch(&self) -> usize {
        match &self.api {
            Api::Native(_) => native_http::MAX_BATCH,
            Api::Pusher(_) => pusher_http::MAX_BATCH,
        }
    }

    /// Publishes `(channel, payload)` pairs in one request.
    pub async fn send(&self, publications: &[(&str, String)]) -> Result<(), String> {
        let request = match &self.api {
            Api::Native(api) => api.request(publications),
            Api::Pusher(api) => api.request(publications),
        };
        let mut builder = self
            .http
            .post(&request.url)
            .header("content-type", "application/json")
            .body(request.body);
        if let Some(authorization) = request.authorization {
            builder = builder.header("authorization", authorization);
        }
        let response = builder
            .send()
            .await
            .map_err(|error| format!("HTTP request failed: {error}"))?;
        let status = response.status();
        // Read the whole body so the connection can be reused.
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("HTTP response failed: {error}"))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "HTTP {status}: {}",
                excerpt(&String::from_utf8_lossy(&body))
            ))
        }
    }
}

/// The HTTP publishing of a run.
#[derive(Debug, Clone)]
pub struct HttpLoad {
    /// Concurrent kept-alive publishing connections.
    pub publishers: usize,
    /// Publications per second, all publishers together.
    pub rate: f64,
    /// The most publications one request carries.
    pub batch: usize,
    /// The most publications in the whole run.
    pub limit: u64,
    /// Size of each payload.
    pub payload_bytes: usize,
    /// The channels, published to in turn.
    pub channels: Arc<[String]>,
    /// Deliveries a publication to each channel should cause, by position
    /// in `channels`.
    pub fanouts: Arc<[u64]>,
    /// When publishing starts.
    pub start: Instant,
    /// When publishing stops.
    pub deadline: Instant,
}

/// Publishes `load` through `publisher` until its deadline, its limit or
/// `stop`, counting into `tally`.
pub async fn run(
    publisher: Arc<HttpPublisher>,
    load: HttpLoad,
    tally: Arc<Tally>,
    stop: CancellationToken,
) {
    let publishers = load.publishers.max(1);
    let mut tasks = Vec::with_capacity(publishers);
    for k in 0..publishers {
        let share =
            load.limit / publishers as u64 + u64::from((k as u64) < load.limit % publishers as u64);
        // Stagger the publishers over one send interval.
        let offset =
            Duration::from_secs_f64(k as f64 / load.rate.max(1e-9)).min(Duration::from_secs(1));
        let pacer = Pacer::new(load.start + offset, load.rate / publishers as f64, share);
        tasks.push(tokio::spawn(publish_loop(
            publisher.clone(),
            load.clone(),
            pacer,
            (k as u64, publishers as u64),
            tally.clone(),
            stop.clone(),
        )));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn publish_loop(
    publisher: Arc<HttpPublisher>,
    load: HttpLoad,
    mut pacer: Pacer,
    (first_seq, seq_step): (u64, u64),
    tally: Arc<Tally>,
    stop: CancellationToken,
) {
    let batch = load.batch.clamp(1, publisher.max_batch());
    let channels = load.channels.len() as u64;
    let mut seq = first_seq;
    let mut items: Vec<(&str, String)> = Vec::with_capacity(batch);
    loop {
        let now = Instant::now();
        if now >= load.deadline || pacer.finished() || stop.is_cancelled() {
            return;
        }
        let due = pacer.due(now).min(batch as u64);
        if due == 0 {
            let wake = pacer.next_at(now).min(load.deadline);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(wake) => continue,
            }
        }
        items.clear();
        let mut deliveries = 0;
        for _ in 0..due {
            let at = (seq % channels) as usize;
            deliveries += load.fanouts[at];
            let data = payload::build(payload::unix_nanos(), seq, load.payload_bytes);
            items.push((&load.channels[at], data));
            seq += seq_step;
        }
        tally.sent(due);
        match publisher.send(&items).await {
            Ok(()) => tally.accepted(due, deliveries),
            Err(error) => {
                tally.failed(due);
                tally.note_error(&error);
            }
        }
        pacer.done(due);
    }
}
