//! `presence-storm`: open connections, then subscribe every one of them at
//! once to one channel with presence (users `bench-0`, `bench-1`, …), as
//! after a deploy when a whole audience reconnects. Reports how long until
//! every subscription was confirmed, the presence pushes each connection
//! received (joins, batches, leaves) and the member entries they carried,
//! and the server's CPU and memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use memchr::memmem;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fanout::no_connection;
use super::{Env, settings};
use crate::cli::PresenceStormArgs;
use crate::measure::{Window, micros_per, sample_server};
use crate::metrics::{Tally, latency_histogram};
use crate::progress::Progress;
use crate::protocol::{
    Client, Conn, Message, PresenceInbound, PresenceKind, Protocol, excerpt, pusher, user_of,
};
use crate::report::{
    GeneratorStats, MachineStats, Percentiles, PresenceStats, Report, ServerStats,
};

/// How often the storm checks whether it is over.
const POLL: Duration = Duration::from_millis(10);
/// How long connections get to close at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long one connection waits for its close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Counters every connection of the storm adds to, read by the progress
/// line and by the end-of-storm check.
#[derive(Debug, Default)]
struct Live {
    subscribed: AtomicUsize,
    refused: AtomicUsize,
    ended: AtomicUsize,
    frames: AtomicU64,
    members: AtomicU64,
    /// Nanoseconds from the storm's start to the latest presence push.
    last_push_nanos: AtomicU64,
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Seen {
    /// From the storm's start to the subscription's confirmation.
    subscribed_after: Option<Duration>,
    joins: u64,
    batches: u64,
    leaves: u64,
    members: u64,
    bytes: u64,
    /// Whether a push named the connection's own user.
    saw_self: bool,
}

impl Seen {
    fn frames(&self) -> u64 {
        self.joins + self.batches + self.leaves
    }
}

/// Runs `parley-bench presence-storm`.
pub async fn run(args: PresenceStormArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    let channel = args.channel.unwrap_or_else(|| {
        match common.protocol {
            Protocol::Native => "room:storm",
            Protocol::Pusher => "presence-storm",
        }
        .to_owned()
    });
    if common.protocol == Protocol::Pusher {
        env.client.credentials().secret()?;
    }
    if common.server_pid.is_none() {
        eprintln!("no --server-pid: the server's CPU and memory will not be measured");
    }

    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let opened = env.open_unsubscribed(common.open_timeout).await;
    if opened.conns.is_empty() {
        return Err(no_connection(&env));
    }
    let open = opened.conns.len();

    // Every connection's task is ready before the storm starts, so the
    // subscriptions go out together rather than as tasks get spawned.
    let live = Arc::new(Live::default());
    let end = CancellationToken::new();
    let go = CancellationToken::new();
    let start = Arc::new(OnceLock::new());
    let mut tasks = JoinSet::new();
    for conn in opened.conns {
        let storm = Storm {
            client: env.client.clone(),
            tally: env.tally.clone(),
            live: live.clone(),
            channel: channel.clone(),
            go: go.clone(),
            start: start.clone(),
            end: end.clone(),
        };
        tasks.spawn(storm.drive(conn));
    }
    // Let every task reach its wait for the start.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let progress = progress(live.clone(), open);
    let window = Window::open(common.server_pid);
    let started = *start.get_or_init(Instant::now);
    go.cancel();

    let deadline = started + common.duration;
    let quiet_nanos = u64::try_from(args.quiet.as_nanos()).unwrap_or(u64::MAX);
    loop {
        tokio::time::sleep(POLL).await;
        let now = Instant::now();
        let done =
            live.subscribed.load(Relaxed) + live.refused.load(Relaxed) + live.ended.load(Relaxed);
        let since_start = u64::try_from(now.duration_since(started).as_nanos()).unwrap_or(u64::MAX);
        let quiet = since_start.saturating_sub(live.last_push_nanos.load(Relaxed)) >= quiet_nanos;
        if (done >= open && quiet) || now >= deadline {
            break;
        }
    }
    let measured = window.close();
    progress.stop().await;
    end.cancel();
    let mut seen = Vec::with_capacity(open);
    let collecting = async {
        while let Some(result) = tasks.join_next().await {
            if let Ok(one) = result {
                seen.push(one);
            }
        }
    };
    if tokio::time::timeout(CLOSE_GRACE, collecting).await.is_err() {
        tasks.abort_all();
    }

    let mut subscribe_time = latency_histogram();
    let mut stats = PresenceStats {
        channel: channel.clone(),
        subscribed: 0,
        refused: live.refused.load(Relaxed),
        ..PresenceStats::default()
    };
    let (mut min, mut max) = (u64::MAX, 0);
    for one in &seen {
        if let Some(after) = one.subscribed_after {
            stats.subscribed += 1;
            let micros = u64::try_from(after.as_micros()).unwrap_or(u64::MAX);
            subscribe_time.saturating_record(micros.max(1));
        }
        stats.join_pushes += one.joins;
        stats.batch_pushes += one.batches;
        stats.leave_pushes += one.leaves;
        stats.members_announced += one.members;
        stats.bytes += one.bytes;
        stats.saw_own_join += usize::from(one.saw_self);
        min = min.min(one.frames());
        max = max.max(one.frames());
    }
    stats.pushes = stats.join_pushes + stats.batch_pushes + stats.leave_pushes;
    stats.pushes_per_connection = [if seen.is_empty() { 0 } else { min }, max];
    stats.mean_pushes_per_connection = stats.pushes as f64 / seen.len().max(1) as f64;
    stats.all_subscribed_seconds =
        (stats.subscribed == open).then(|| subscribe_time.max() as f64 / 1e6);
    stats.subscribe_time_ms = Percentiles::from_micros(&subscribe_time);
    stats.settled_seconds = live.last_push_nanos.load(Relaxed) as f64 / 1e9;
    stats.server_cpu_us_per_subscription = measured
        .server_cpu()
        .and_then(|cpu| micros_per(cpu, stats.subscribed as u64));

    let mut report = env.report(
        "presence-storm",
        settings([
            ("channel", channel),
            ("quiet", humantime::format_duration(args.quiet).to_string()),
            (
                "duration limit",
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
    report.presence = Some(stats);
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    Ok(report)
}

/// One connection's part in the storm.
struct Storm {
    client: Arc<Client>,
    tally: Arc<Tally>,
    live: Arc<Live>,
    channel: String,
    go: CancellationToken,
    /// When the storm started, set before `go` is cancelled.
    start: Arc<OnceLock<Instant>>,
    end: CancellationToken,
}

impl Storm {
    /// Subscribes when the storm starts, then counts what arrives until
    /// the run ends.
    async fn drive(self, mut conn: Conn) -> Seen {
        let mut seen = Seen::default();
        let needle = self.client.user_needle(&user_of(conn.index));
        let needle = memmem::Finder::new(&needle);
        self.go.cancelled().await;
        let start = *self.start.get_or_init(Instant::now);
        let subscribe = match self
            .client
            .presence_subscribe_frame(&mut conn, &self.channel)
        {
            Ok(frame) => frame,
            Err(error) => {
                self.fail(&format!("subscribe: {error}"));
                return seen;
            }
        };
        if let Err(error) = conn.ws.send_text(&subscribe).await {
            self.fail(&format!("subscribe: {error}"));
            return seen;
        }
        let run_over = self.end.cancelled();
        tokio::pin!(run_over);
        loop {
            let message = tokio::select! {
                biased;
                () = &mut run_over => {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
                    return seen;
                }
                message = conn.ws.next() => message,
            };
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(code)) => {
                    self.tally.closed(code);
                    self.live.ended.fetch_add(1, Relaxed);
                    return seen;
                }
                Ok(Message::Binary(_)) => continue,
                Err(error) => {
                    self.tally.dropped();
                    self.fail(&format!("connection broke: {error}"));
                    return seen;
                }
            };
            let bytes = text.as_bytes();
            let inbound = self.client.presence_inbound(bytes);
            let (kind, members) = match inbound {
                PresenceInbound::Subscribed => {
                    if seen.subscribed_after.is_none() {
                        seen.subscribed_after = Some(start.elapsed());
                        self.live.subscribed.fetch_add(1, Relaxed);
                    }
                    // Pusher confirms with the member list.
                    if self.client.protocol != Protocol::Pusher {
                        continue;
                    }
                    (PresenceKind::Batch, pusher::member_count(bytes))
                }
                PresenceInbound::Refused => {
                    self.tally.error_reply();
                    self.tally
                        .note_error(&format!("subscribe refused: {}", excerpt(&text)));
                    self.live.refused.fetch_add(1, Relaxed);
                    continue;
                }
                PresenceInbound::Presence { kind, members } => (kind, members),
                PresenceInbound::Ping => {
                    if conn.ws.send_text(self.client.pong_frame()).await.is_err() {
                        self.live.ended.fetch_add(1, Relaxed);
                        return seen;
                    }
                    continue;
                }
                PresenceInbound::Other => continue,
            };
            match kind {
                PresenceKind::Join => seen.joins += 1,
                PresenceKind::Batch => seen.batches += 1,
                PresenceKind::Leave => seen.leaves += 1,
            }
            seen.members += members;
            seen.bytes += bytes.len() as u64;
            if !seen.saw_self && kind != PresenceKind::Leave && needle.find(bytes).is_some() {
                seen.saw_self = true;
            }
            self.live.frames.fetch_add(1, Relaxed);
            self.live.members.fetch_add(members, Relaxed);
            let at = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.live.last_push_nanos.fetch_max(at, Relaxed);
        }
    }

    fn fail(&self, error: &str) {
        self.tally.note_error(error);
        self.live.ended.fetch_add(1, Relaxed);
    }
}

/// The progress line of the storm.
fn progress(live: Arc<Live>, open: usize) -> Progress {
    Progress::start("storm", move || {
        format!(
            "{}/{open} subscribed, {} refused, {} ended | presence pushes {} | members announced {}",
            live.subscribed.load(Relaxed),
            live.refused.load(Relaxed),
            live.ended.load(Relaxed),
            live.frames.load(Relaxed),
            live.members.load(Relaxed),
        )
    })
}
