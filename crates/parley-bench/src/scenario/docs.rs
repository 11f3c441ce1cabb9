//! `docs`: live documents. Of the connections, `--watchers` hold a live
//! query (`doc_watch`, the 20 most recently written documents) over one
//! channel of a namespace with `documents = true`; the others write that
//! channel's documents with `doc_merge`, each its next write as soon as
//! the previous one is acknowledged (a closed loop). Reports writes
//! acknowledged per second, the time from a write to its acknowledgement,
//! and the time from a write to the `query_changed` push that shows it to
//! each watcher.
//!
//! Each write carries the wall-clock time it was sent (microseconds since
//! the Unix epoch) in its data, so a watcher reads the latency off the
//! document itself; writers and watchers are in this one process, on one
//! clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::fanout::no_connection;
use super::requests::{Answers, Requests};
use super::{Env, settings};
use crate::cli::DocsArgs;
use crate::measure::{Window, micros_per, sample_server};
use crate::metrics::{Tally, latency_histogram};
use crate::progress::Progress;
use crate::protocol::{Client, Conn, Inbound, Message, Protocol, excerpt, send_all};
use crate::report::{
    DocsStats, GeneratorStats, MachineStats, Percentiles, Publications, Report, ServerStats,
};

/// The channel prefix when none is given: the `docs` namespace.
const DEFAULT_PREFIX: &str = "docs:bench-";
/// How long a watcher keeps reading after the writes stop, for the pushes
/// of the last ones.
const DRAIN: Duration = Duration::from_millis(500);
/// How long a connection waits for its close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The size of a watcher's result.
const WATCH_LIMIT: usize = 20;

/// Counters the progress line reads.
#[derive(Debug, Default)]
struct Live {
    acked: AtomicU64,
    changes: AtomicU64,
}

/// What one watcher saw.
#[derive(Debug)]
struct Watched {
    /// Whether its `doc_watch` was answered with a result.
    watching: bool,
    /// `query_changed` pushes.
    changes: u64,
    /// Documents added or updated in them.
    documents: u64,
    /// From a write to the push that showed it, µs.
    change_time: Histogram<u64>,
}

/// Runs `parley-bench docs`.
pub async fn run(args: DocsArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    if common.protocol != Protocol::Native {
        return Err("live documents are native-protocol methods: use --protocol native".into());
    }
    if args.watchers >= common.connections {
        return Err("--connections must be more than --watchers: the others write".into());
    }
    if args.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    let prefix = common
        .channel_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    crate::plan::check_prefix(&prefix)?;
    let channel = format!("{prefix}0");

    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let opened = env.open_unsubscribed(common.open_timeout).await;
    if opened.conns.is_empty() {
        return Err(no_connection(&env));
    }
    let open = opened.conns.len();
    let (watchers, writers): (Vec<Conn>, Vec<Conn>) = opened
        .conns
        .into_iter()
        .partition(|conn| conn.index < args.watchers);
    let watcher_count = watchers.len();

    // The watches first, so every write of the run can reach them.
    let mut watching = Vec::with_capacity(watcher_count);
    for mut conn in watchers {
        match start_watch(&env.client, &mut conn, &channel).await {
            Ok(()) => watching.push(conn),
            Err(error) => env.tally.note_error(&format!("doc_watch: {error}")),
        }
    }

    let live = Arc::new(Live::default());
    let progress = progress(live.clone());
    let window = Window::open(common.server_pid);
    let start = Instant::now();
    let deadline = start + common.duration;
    let mut watcher_tasks = JoinSet::new();
    for conn in watching {
        let watcher = Watcher {
            client: env.client.clone(),
            tally: env.tally.clone(),
            live: live.clone(),
            until: deadline + DRAIN,
        };
        watcher_tasks.spawn(watcher.drive(conn));
    }
    let mut writer_tasks = JoinSet::new();
    for conn in writers {
        let writer = Writer {
            client: env.client.clone(),
            tally: env.tally.clone(),
            live: live.clone(),
            channel: channel.clone(),
            keys: args.keys,
            deadline,
            answer_timeout: common.step_timeout,
        };
        writer_tasks.spawn(writer.drive(conn));
    }
    let mut written = Vec::new();
    while let Some(result) = writer_tasks.join_next().await {
        if let Ok(one) = result {
            written.push(one);
        }
    }
    let measured = window.close();
    let mut watched = Vec::new();
    while let Some(result) = watcher_tasks.join_next().await {
        if let Ok(one) = result {
            watched.push(one);
        }
    }
    progress.stop().await;

    let mut ack_time = latency_histogram();
    let mut change_time = latency_histogram();
    let mut stats = DocsStats {
        writers: open - watcher_count,
        watchers: watched.iter().filter(|one| one.watching).count(),
        ..DocsStats::default()
    };
    for one in &written {
        stats.sent += one.sent;
        stats.acked += one.acked;
        stats.refused += one.refused;
        stats.unanswered += one.unanswered;
        ack_time
            .add(&one.ack_time)
            .map_err(|error| error.to_string())?;
    }
    for one in &watched {
        stats.changes += one.changes;
        stats.documents_seen += one.documents;
        change_time
            .add(&one.change_time)
            .map_err(|error| error.to_string())?;
    }
    stats.per_second = stats.acked as f64 / measured.elapsed.as_secs_f64().max(1e-9);
    stats.ack_ms = Percentiles::from_micros(&ack_time);
    stats.change_ms = Percentiles::from_micros(&change_time);
    stats.server_cpu_us_per_write = measured
        .server_cpu()
        .and_then(|cpu| micros_per(cpu, stats.acked));

    let mut report = env.report(
        "docs",
        settings([
            ("channel", channel.clone()),
            ("watchers", args.watchers.to_string()),
            ("keys", args.keys.to_string()),
            (
                "duration",
                humantime::format_duration(common.duration).to_string(),
            ),
        ]),
    );
    report.record_opening(
        common.connections,
        open,
        opened.failed,
        opened.elapsed,
        &opened.connect_latency,
    );
    report.publications = Some(Publications {
        via: "ws doc_merge".to_owned(),
        target_rate: 0.0,
        sent: stats.sent,
        accepted: stats.acked,
        failed: stats.refused + stats.unanswered,
        per_second: stats.per_second,
    });
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    report.docs = Some(stats);
    Ok(report)
}

/// Microseconds since the Unix epoch, the writers' and watchers' clock.
fn now_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// Sends `doc_watch` and waits for its answer.
async fn start_watch(client: &Client, conn: &mut Conn, channel: &str) -> Result<(), String> {
    let id = conn.take_id();
    let frame = json!({"id": id, "method": "doc_watch", "params": {
        "channel": channel, "order": "at:desc", "limit": WATCH_LIMIT,
    }});
    send_all(&mut conn.ws, [frame.to_string()]).await?;
    loop {
        let text = crate::protocol::next_text(&mut conn.ws).await?;
        match client.classify(text.as_bytes()) {
            Inbound::Ack => return Ok(()),
            Inbound::Error => return Err(excerpt(&text)),
            Inbound::Ping => send_all(&mut conn.ws, [client.pong_frame().to_owned()]).await?,
            Inbound::Other => {}
        }
    }
}

/// One connection writing documents.
struct Writer {
    client: Arc<Client>,
    tally: Arc<Tally>,
    live: Arc<Live>,
    channel: String,
    keys: usize,
    deadline: Instant,
    answer_timeout: Duration,
}

impl Writer {
    /// Writes until the deadline, one write in flight at a time, then
    /// waits (bounded) for the last answer and closes.
    async fn drive(self, mut conn: Conn) -> Requests {
        let mut requests = Requests::new();
        let answers = Answers {
            client: &self.client,
            tally: &self.tally,
            acked: &self.live.acked,
            refused: None,
        };
        let give_up = self.deadline + self.answer_timeout;
        loop {
            let now = Instant::now();
            if now >= self.deadline && requests.in_flight() == 0 {
                break;
            }
            if now >= give_up {
                requests.give_up();
                break;
            }
            if now < self.deadline && requests.in_flight() == 0 {
                let key = (conn.index + requests.sent as usize) % self.keys;
                let frame = json!({"id": conn.take_id(), "method": "doc_merge", "params": {
                    "channel": self.channel, "key": format!("k{key}"),
                    "patch": {"at": now_micros(), "by": conn.index},
                }});
                requests.sent_now(1);
                self.tally.sent(1);
                if let Err(error) = send_all(&mut conn.ws, [frame.to_string()]).await {
                    answers.broke(&error);
                    requests.give_up();
                    return requests;
                }
            }
            let message = tokio::select! {
                () = tokio::time::sleep_until(give_up) => continue,
                message = conn.ws.next() => message,
            };
            if !answers.take(&mut conn, message, &mut requests).await {
                return requests;
            }
        }
        answers.finish(conn, &requests).await;
        requests
    }
}

/// One connection holding a live query.
struct Watcher {
    client: Arc<Client>,
    tally: Arc<Tally>,
    live: Arc<Live>,
    /// When it stops reading.
    until: Instant,
}

impl Watcher {
    async fn drive(self, mut conn: Conn) -> Watched {
        let mut seen = Watched {
            watching: true,
            changes: 0,
            documents: 0,
            change_time: latency_histogram(),
        };
        loop {
            let message = tokio::select! {
                () = tokio::time::sleep_until(self.until) => break,
                message = conn.ws.next() => message,
            };
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(code)) => {
                    self.tally.closed(code);
                    return seen;
                }
                Ok(Message::Binary(_)) => continue,
                Err(error) => {
                    self.tally.dropped();
                    self.tally.note_error(&format!("connection broke: {error}"));
                    return seen;
                }
            };
            if text.starts_with(r#"{"push":"query_changed""#) {
                let received = now_micros();
                let Ok(push) = serde_json::from_str::<Value>(&text) else {
                    self.tally
                        .note_error(&format!("unreadable push: {}", excerpt(&text)));
                    continue;
                };
                seen.changes += 1;
                self.live.changes.fetch_add(1, Relaxed);
                let documents = ["added", "updated"]
                    .iter()
                    .filter_map(|part| push[part].as_array())
                    .flatten();
                for document in documents {
                    seen.documents += 1;
                    if let Some(at) = document["data"]["at"].as_u64() {
                        seen.change_time
                            .saturating_record(received.saturating_sub(at).max(1));
                    }
                }
            } else if let Inbound::Ping = self.client.classify(text.as_bytes())
                && let Err(error) = conn.ws.send_text(self.client.pong_frame()).await
            {
                self.tally.dropped();
                self.tally.note_error(&format!("connection broke: {error}"));
                return seen;
            }
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
        seen
    }
}

/// The progress line of a docs run.
fn progress(live: Arc<Live>) -> Progress {
    let mut last = 0;
    Progress::start("docs", move || {
        let acked = live.acked.load(Relaxed);
        let line = format!(
            "{acked} writes acked (+{}/s), {} query changes pushed",
            acked - last,
            live.changes.load(Relaxed),
        );
        last = acked;
        line
    })
}
