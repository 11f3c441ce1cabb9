//! `reconnect-storm`: every client follows one channel while a publisher
//! publishes to all of them through the HTTP API; then, as after a network
//! blip or a load balancer restart, every client drops its connection at
//! once (the socket closed, no close frame), waits its share of
//! `--reconnect-spread`, reconnects, subscribes again from its last stream
//! position and takes the replay of what it missed. Reports how long until
//! all were reconnected and all had recovered, per-client times, what was
//! replayed, who could not be recovered, and every offset missing.
//!
//! - [`subscriber`]: one client's life through the storms;
//!   [`reader`]: reading its connection until something happens;
//!   [`comeback`]: what it saw.
//! - [`storm`]: what the clients share, and each storm's signal and
//!   counts; [`summary`]: the report's figures from every client's record.
//! - [`stream`]: following a channel's offsets, gaps and duplicates.
//! - [`spread`]: the waits of `--reconnect-spread`.

mod comeback;
mod reader;
mod spread;
mod storm;
mod stream;
mod subscriber;
mod summary;

pub use spread::Spread;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::storm::{Shared, StormSignal};
use self::subscriber::Subscriber;
use super::fanout::no_connection;
use super::{Env, settings};
use crate::cli::ReconnectStormArgs;
use crate::measure::{Window, sample_server};
use crate::plan::{channel_name, check_prefix};
use crate::progress::Progress;
use crate::protocol::Protocol;
use crate::publish::{self, HttpLoad, HttpPublisher};
use crate::report::{
    Deliveries, GeneratorStats, MachineStats, Percentiles, Publications, Report, ServerStats,
};

/// The channel prefix of the native protocol when none is given: the
/// `recovery` namespace of `scripts/bench.sh`, which keeps history.
const NATIVE_PREFIX: &str = "recovery:bench-";
/// The most storms one run may have.
const MAX_STORMS: usize = 100;
/// How often a storm checks whether it is over.
const POLL: Duration = Duration::from_millis(10);
/// How long after a storm's time limit the clients get to say they gave
/// up.
const LIMIT_GRACE: Duration = Duration::from_millis(200);
/// The longest wait, after publishing stops, for deliveries on their way.
const DRAIN: Duration = Duration::from_secs(2);
/// How long clients get to close at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs `parley-bench reconnect-storm`.
pub async fn run(args: ReconnectStormArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common.clone(), open_files_limit).await?;
    let common = env.common.clone();
    if args.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    if !(1..=MAX_STORMS).contains(&args.storms) {
        return Err(format!("--storms must be 1 to {MAX_STORMS}"));
    }
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err("--rate must be above zero".into());
    }
    let prefix = match (&common.channel_prefix, common.protocol) {
        (Some(prefix), _) => prefix.clone(),
        (None, Protocol::Native) => NATIVE_PREFIX.to_owned(),
        (None, Protocol::Pusher) => Protocol::Pusher.default_channel_prefix().to_owned(),
    };
    check_prefix(&prefix)?;
    let names: Arc<[String]> = (0..args.channels)
        .map(|channel| channel_name(&prefix, channel))
        .collect();
    let publisher = Arc::new(HttpPublisher::new(
        common.protocol,
        &env.client.target,
        env.client.credentials(),
        args.http_connections,
    )?);
    if common.server_pid.is_none() {
        eprintln!("no --server-pid: the server's CPU and memory will not be measured");
    }

    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let opened = env.open_unsubscribed(common.open_timeout).await;
    if opened.conns.is_empty() {
        return Err(no_connection(&env));
    }
    let open = opened.conns.len();
    let shared = Arc::new(Shared {
        client: env.client.clone(),
        tally: env.tally.clone(),
        storms: (0..args.storms).map(|_| StormSignal::default()).collect(),
        spread: args.reconnect_spread,
        limit: common.duration,
        end: CancellationToken::new(),
        subscribed: AtomicUsize::new(0),
        unsubscribed: AtomicUsize::new(0),
        alive: AtomicUsize::new(open),
    });
    let mut fanouts = vec![0u64; args.channels];
    let mut tasks = JoinSet::new();
    for conn in opened.conns {
        let channel = conn.index % args.channels;
        fanouts[channel] += 1;
        let subscriber = Subscriber::new(conn.index, names[channel].clone(), shared.clone());
        tasks.spawn(subscriber.run(conn));
    }
    let until = Instant::now() + common.step_timeout + Duration::from_secs(1);
    while shared.subscribed.load(Relaxed) + shared.unsubscribed.load(Relaxed) < open
        && Instant::now() < until
    {
        tokio::time::sleep(POLL).await;
    }
    let clients = shared.subscribed.load(Relaxed);
    eprintln!("{clients} of {open} connections subscribed");
    if clients < open {
        // Publications to a channel count the subscribers that failed;
        // the report then shows them as lost, and the errors say why.
        eprintln!("warning: {} subscriptions failed", open - clients);
    }

    let stop = CancellationToken::new();
    let start = Instant::now();
    let load = HttpLoad {
        publishers: args.http_connections,
        rate: args.rate,
        batch: args.batch,
        limit: u64::MAX,
        payload_bytes: args.payload_bytes,
        channels: names.clone(),
        fanouts: fanouts.into(),
        start,
        // Publishing ends when `stop` is cancelled.
        deadline: start + Duration::from_secs(86_400),
    };
    let publishing = tokio::spawn(publish::run(
        publisher,
        load,
        env.tally.clone(),
        stop.clone(),
    ));
    let progress = progress(&env, shared.clone());
    tokio::time::sleep(args.interval).await;

    let overall = Window::open(common.server_pid);
    let mut windows = Vec::with_capacity(args.storms);
    for (k, signal) in shared.storms.iter().enumerate() {
        let participants = shared.alive.load(Relaxed);
        let window = Window::open(common.server_pid);
        let at = Instant::now();
        signal
            .at
            .set(at)
            .expect("each storm's drop time is set once");
        signal.drop.cancel();
        loop {
            tokio::time::sleep(POLL).await;
            if signal.settled.load(Relaxed) >= participants
                || Instant::now() >= at + common.duration + LIMIT_GRACE
            {
                break;
            }
        }
        windows.push(window.close());
        eprintln!(
            "storm {} of {}: over after {:.2}s",
            k + 1,
            args.storms,
            at.elapsed().as_secs_f64()
        );
        if k + 1 < args.storms {
            tokio::time::sleep(args.interval).await;
        }
    }
    let measured = overall.close();
    // Live publications after the last storm: a gap where the replay
    // meets them shows here.
    tokio::time::sleep(args.interval).await;
    stop.cancel();
    let _ = publishing.await;
    let published_for = start.elapsed();
    drain(&env).await;
    progress.stop().await;
    let snapshot = env.tally.snapshot();
    let latency = env.tally.latency();
    shared.end.cancel();
    let mut records = Vec::with_capacity(open);
    let collecting = async {
        while let Some(result) = tasks.join_next().await {
            if let Ok(record) = result {
                records.push(record);
            }
        }
    };
    if tokio::time::timeout(CLOSE_GRACE, collecting).await.is_err() {
        tasks.abort_all();
    }

    let native = common.protocol == Protocol::Native;
    let mut stats = summary::summarize(&records, &windows, native);
    stats.channels = args.channels;
    stats.clients = clients;
    let mut report = env.report(
        "reconnect-storm",
        settings([
            (
                "channels",
                format!("{prefix}0 … {prefix}{}", args.channels - 1),
            ),
            ("rate", format!("{} /s", args.rate)),
            ("payload bytes", args.payload_bytes.to_string()),
            ("batch", args.batch.to_string()),
            ("storms", args.storms.to_string()),
            ("reconnect spread", args.reconnect_spread.to_string()),
            (
                "interval",
                humantime::format_duration(args.interval).to_string(),
            ),
            (
                "storm limit",
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
        via: "http".to_owned(),
        target_rate: args.rate,
        sent: snapshot.sent,
        accepted: snapshot.accepted,
        failed: snapshot.failed,
        per_second: snapshot.accepted as f64 / published_for.as_secs_f64().max(1e-9),
    });
    report.deliveries = Some(Deliveries {
        expected: snapshot.expected,
        delivered: snapshot.delivered,
        loss_percent: snapshot.loss() * 100.0,
        per_second: snapshot.delivered as f64 / published_for.as_secs_f64().max(1e-9),
    });
    // Live deliveries only: a replayed publication's age is the time its
    // subscriber was away.
    report.latency_ms = Some(Percentiles::from_micros(&latency));
    report.reconnect = Some(stats);
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    Ok(report)
}

/// Waits (bounded) until every accepted publication was delivered to
/// every subscriber; with clients that were not recovered, or the Pusher
/// protocol, some never are.
async fn drain(env: &Env) {
    let until = Instant::now() + DRAIN;
    while Instant::now() < until {
        let snapshot = env.tally.snapshot();
        if snapshot.unanswered() == 0 && snapshot.delivered >= snapshot.expected {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The progress line: the storm under way (or the last one), and the
/// publishing.
fn progress(env: &Env, shared: Arc<Shared>) -> Progress {
    let tally = env.tally.clone();
    Progress::start("storm", move || {
        let snapshot = tally.snapshot();
        let publishing = format!(
            "published {} | delivered {}",
            snapshot.accepted, snapshot.delivered
        );
        let current = shared
            .storms
            .iter()
            .enumerate()
            .rev()
            .find(|(_, signal)| signal.at.get().is_some());
        let Some((k, signal)) = current else {
            return format!("steady, before the first storm | {publishing}");
        };
        let load = |counter: &AtomicUsize| counter.load(Relaxed);
        let load64 = |counter: &AtomicU64| counter.load(Relaxed);
        format!(
            "storm {}: {} reconnected, {} re-subscribed, {} recovered, {} not, {} gave up, {} connect failures, {} replayed | {publishing}",
            k + 1,
            load(&signal.reconnected),
            load(&signal.resubscribed),
            load(&signal.recovered),
            load(&signal.not_recovered),
            load(&signal.gave_up),
            load64(&signal.connect_failures),
            load64(&signal.replayed),
        )
    })
}
