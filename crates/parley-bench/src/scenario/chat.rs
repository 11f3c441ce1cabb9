//! `chat`: every connection writes chat messages with `message_send` (the
//! native protocol) to channels of a persisted namespace, and the server
//! acknowledges each one once its store has committed it. Reports messages
//! stored per second, the time from send to acknowledgement, the server's
//! CPU per message, and (from the server's `/metrics`) the statements its
//! store ran per message and the messages per transaction.
//!
//! Without `--rate` each connection sends its next message as soon as the
//! previous one is acknowledged (a closed loop: the figure is the store's
//! throughput at that many concurrent writers). With `--rate` the messages
//! go out on a schedule whether or not earlier ones were answered, so the
//! acknowledgement time includes any queueing in the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::fanout::no_connection;
use super::requests::{Answers, Requests};
use super::{Env, settings};
use crate::cli::ChatArgs;
use crate::measure::{Window, micros_per, sample_server};
use crate::metrics::{Tally, latency_histogram};
use crate::pacing::Pacer;
use crate::progress::Progress;
use crate::protocol::{Client, Conn, Protocol, native, send_all};
use crate::report::{
    ChatStats, GeneratorStats, MachineStats, Percentiles, Publications, Report, ServerStats,
};
use crate::server_counters::StoreCounters;

/// The channel prefix when none is given: the `chat` namespace.
const DEFAULT_PREFIX: &str = "chat:bench-";
/// The shortest text: room for the connection and sequence numbers.
const MIN_TEXT_BYTES: usize = 16;

/// Counters every writer adds to, read by the progress line.
#[derive(Debug, Default)]
struct Live {
    sent: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
}

/// Runs `parley-bench chat`.
pub async fn run(args: ChatArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    if common.protocol != Protocol::Native {
        return Err(
            "chat writes with message_send, a native-protocol method: use --protocol native".into(),
        );
    }
    if args.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    if args.text_bytes < MIN_TEXT_BYTES {
        return Err(format!("--text-bytes must be at least {MIN_TEXT_BYTES}"));
    }
    if !args.rate.is_finite() || args.rate < 0.0 {
        return Err("--rate must be 0 (as fast as acknowledged) or more".into());
    }
    let prefix = common
        .channel_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    crate::plan::check_prefix(&prefix)?;
    if common.server_pid.is_none() {
        eprintln!("no --server-pid: the server's CPU and memory will not be measured");
    }

    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let opened = env.open_unsubscribed(common.open_timeout).await;
    if opened.conns.is_empty() {
        return Err(no_connection(&env));
    }
    let open = opened.conns.len();

    let live = Arc::new(Live::default());
    let progress = progress(live.clone());
    let counters_before = StoreCounters::read(common.first_url()).await;
    let window = Window::open(common.server_pid);
    let start = Instant::now();
    let deadline = start + common.duration;
    // Each writer's share of the rate; a writer's schedule starts a
    // fraction of its period after the others', so sends spread evenly.
    let per_writer = args.rate / open as f64;
    let mut tasks = JoinSet::new();
    for conn in opened.conns {
        let pacer = (args.rate > 0.0).then(|| {
            let offset = Duration::from_secs_f64(conn.index as f64 / args.rate);
            Pacer::new(start + offset, per_writer, u64::MAX)
        });
        let writer = Writer {
            client: env.client.clone(),
            tally: env.tally.clone(),
            live: live.clone(),
            channel: format!("{prefix}{}", conn.index % args.channels),
            text_bytes: args.text_bytes,
            pacer,
            deadline,
            answer_timeout: common.step_timeout,
        };
        tasks.spawn(writer.drive(conn));
    }
    let mut seen: Vec<Requests> = Vec::with_capacity(open);
    while let Some(result) = tasks.join_next().await {
        if let Ok(one) = result {
            seen.push(one);
        }
    }
    let measured = window.close();
    progress.stop().await;
    let store = match (
        counters_before,
        StoreCounters::read(common.first_url()).await,
    ) {
        (Some(before), Some(after)) => Some(after.since(&before)),
        _ => None,
    };

    let mut ack_time = latency_histogram();
    let mut stats = ChatStats {
        channels: args.channels.min(open),
        ..ChatStats::default()
    };
    for one in &seen {
        stats.sent += one.sent;
        stats.acked += one.acked;
        stats.refused += one.refused;
        stats.unanswered += one.unanswered;
        ack_time
            .add(&one.ack_time)
            .map_err(|error| error.to_string())?;
    }
    stats.per_second = stats.acked as f64 / measured.elapsed.as_secs_f64().max(1e-9);
    stats.ack_ms = Percentiles::from_micros(&ack_time);
    stats.server_cpu_us_per_message = measured
        .server_cpu()
        .and_then(|cpu| micros_per(cpu, stats.acked));
    // The counters cover every write of the server over the window; in a
    // chat run those are the messages.
    if let Some(store) = store.filter(|store| store.operations > 0.0) {
        stats.statements_per_message = Some(store.statements / store.operations);
        stats.messages_per_transaction = Some(store.operations / store.transactions.max(1.0));
    }

    let mode = if args.rate > 0.0 {
        format!("{} /s", args.rate)
    } else {
        "as fast as acknowledged".to_owned()
    };
    let mut report = env.report(
        "chat",
        settings([
            (
                "channels",
                format!("{prefix}0 … {prefix}{}", args.channels - 1),
            ),
            ("rate", mode),
            ("text", format!("{} bytes", args.text_bytes)),
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
        via: "ws message_send".to_owned(),
        target_rate: args.rate,
        sent: stats.sent,
        accepted: stats.acked,
        failed: stats.refused + stats.unanswered,
        per_second: stats.per_second,
    });
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    report.chat = Some(stats);
    Ok(report)
}

/// One connection writing messages.
struct Writer {
    client: Arc<Client>,
    tally: Arc<Tally>,
    live: Arc<Live>,
    channel: String,
    text_bytes: usize,
    /// The schedule, or none for a closed loop.
    pacer: Option<Pacer>,
    /// When writing stops.
    deadline: Instant,
    /// How long to wait for the answers still due after the deadline.
    answer_timeout: Duration,
}

impl Writer {
    /// Writes until the deadline, then waits (bounded) for the answers
    /// still due and closes.
    async fn drive(mut self, mut conn: Conn) -> Requests {
        let mut requests = Requests::new();
        let answers = Answers {
            client: &self.client,
            tally: &self.tally,
            acked: &self.live.acked,
            refused: Some(&self.live.refused),
        };
        let give_up = self.deadline + self.answer_timeout;
        let timer = tokio::time::sleep_until(self.deadline);
        tokio::pin!(timer);
        loop {
            let now = Instant::now();
            let writing = now < self.deadline;
            if !writing && requests.in_flight() == 0 {
                break;
            }
            if now >= give_up {
                requests.give_up();
                break;
            }
            let due = match &self.pacer {
                _ if !writing => 0,
                Some(pacer) => pacer.due(now),
                None => u64::from(requests.in_flight() == 0),
            };
            if due > 0 {
                let frames: Vec<String> = (0..due)
                    .map(|_| {
                        let text = text(
                            conn.index,
                            requests.sent + requests.in_flight() as u64,
                            self.text_bytes,
                        );
                        native::message_send_frame(conn.take_id(), &self.channel, &text)
                    })
                    .collect();
                requests.sent_now(due);
                self.live.sent.fetch_add(due, Relaxed);
                self.tally.sent(due);
                if let Some(pacer) = &mut self.pacer {
                    pacer.done(due);
                }
                if let Err(error) = send_all(&mut conn.ws, frames).await {
                    answers.broke(&error);
                    requests.give_up();
                    return requests;
                }
            }
            let wake = match &self.pacer {
                Some(pacer) if writing => pacer.next_at(Instant::now()).min(self.deadline),
                _ if writing => self.deadline,
                _ => give_up,
            };
            if timer.deadline() != wake {
                timer.as_mut().reset(wake);
            }
            let message = tokio::select! {
                () = &mut timer => continue,
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

/// The text of message `seq` from connection `index`: the numbers, then
/// letters up to `bytes` (plain ASCII, so it needs no JSON escaping).
fn text(index: usize, seq: u64, bytes: usize) -> String {
    let mut text = format!("bench {index} {seq} ");
    let pad = bytes.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('x', pad));
    text
}

/// The progress line of a chat run.
fn progress(live: Arc<Live>) -> Progress {
    let mut last = 0;
    Progress::start("chat", move || {
        let acked = live.acked.load(Relaxed);
        let line = format!(
            "{} sent, {acked} acked (+{}/s), {} refused",
            live.sent.load(Relaxed),
            acked - last,
            live.refused.load(Relaxed),
        );
        last = acked;
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_the_asked_size_and_needs_no_escaping() {
        let text = text(12, 3456, 100);
        assert_eq!(text.len(), 100);
        assert!(text.starts_with("bench 12 3456 x"));
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' '));
    }
}
