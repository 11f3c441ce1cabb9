//! `soak`: connections come and go at a bounded rate for a long time while
//! the server's resident memory is sampled, to show whether it levels off.
//!
//! Each cycle opens a connection (native `connect` with a fresh token),
//! subscribes to a channel and to a presence channel, reads the presence
//! channel's members, publishes, writes a chat message to a persisted
//! namespace, waits for every reply and closes. At most `--connections`
//! cycles run at once; a cycle due while they all run is skipped and
//! counted. The server's RSS is read from /proc every `--sample-every`;
//! the report compares the sample at `--baseline-at` (after start-up and
//! warm-up) with the last one. `--scrape-every` also reads `/metrics` on a
//! schedule, as Prometheus would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Env, settings};
use crate::cli::SoakArgs;
use crate::metrics::Tally;
use crate::pacing::Pacer;
use crate::procstat;
use crate::progress::Progress;
use crate::protocol::{Client, Protocol, native, send_all};
use crate::report::{Report, SoakStats};

/// How long a cycle's connection waits for its close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the schedule is checked for due cycles.
const TICK: Duration = Duration::from_millis(10);

/// Counters the cycles add to, read by the progress line and the report.
#[derive(Debug, Default)]
struct Live {
    cycles: AtomicU64,
    failed: AtomicU64,
    error_replies: AtomicU64,
    skipped: AtomicU64,
    scrapes: AtomicU64,
    scrape_failures: AtomicU64,
    rss: AtomicU64,
}

/// What one cycle needs.
#[derive(Debug)]
struct Cycle {
    client: Arc<Client>,
    tally: Arc<Tally>,
    live: Arc<Live>,
    stream: String,
    presence: String,
    chat: String,
    timeout: Duration,
}

/// Runs `parley-bench soak`.
pub async fn run(args: SoakArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    if common.protocol != Protocol::Native {
        return Err(
            "soak writes chat messages with message_send, a native-protocol method: use --protocol native"
                .into(),
        );
    }
    let pid = common
        .server_pid
        .map(|pids| pids.first())
        .ok_or("soak measures the server's memory: give --server-pid")?;
    procstat::sample(pid).map_err(|error| format!("cannot read /proc/{pid}: {error}"))?;
    if args.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    if !args.cycle_rate.is_finite() || args.cycle_rate <= 0.0 {
        return Err("--cycle-rate must be more than 0".into());
    }
    if args.sample_every.is_zero() {
        return Err("--sample-every must be more than 0".into());
    }
    for prefix in [
        &args.stream_prefix,
        &args.presence_prefix,
        &args.chat_prefix,
    ] {
        crate::plan::check_prefix(prefix)?;
    }

    let live = Arc::new(Live::default());
    let end = CancellationToken::new();
    let start = Instant::now();
    let deadline = start + common.duration;
    let sampler = tokio::spawn(sample_rss(
        pid,
        args.sample_every,
        live.clone(),
        end.clone(),
    ));
    let scraper = args.scrape_every.map(|every| {
        let url = format!("{}/metrics", common.first_url().trim_end_matches('/'));
        tokio::spawn(scrape(url, every, live.clone(), end.clone()))
    });
    let progress = progress(live.clone());

    let running = Arc::new(Semaphore::new(common.connections));
    let mut pacer = Pacer::new(start, args.cycle_rate, u64::MAX);
    let mut cycles = JoinSet::new();
    let mut number: u64 = 0;
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < deadline {
        ticks.tick().await;
        while cycles.try_join_next().is_some() {}
        let due = pacer.due(Instant::now());
        for _ in 0..due {
            let Ok(permit) = running.clone().try_acquire_owned() else {
                live.skipped.fetch_add(1, Relaxed);
                continue;
            };
            let channel = number % args.channels as u64;
            let cycle = Cycle {
                client: env.client.clone(),
                tally: env.tally.clone(),
                live: live.clone(),
                stream: format!("{}{channel}", args.stream_prefix),
                presence: format!("{}{channel}", args.presence_prefix),
                chat: format!("{}{channel}", args.chat_prefix),
                timeout: common.step_timeout,
            };
            // A new user every cycle, or `--users` in turn.
            let user = match args.users {
                0 => number,
                users => number % users,
            } as usize;
            cycles.spawn(async move {
                cycle.run(user).await;
                drop(permit);
            });
            number += 1;
        }
        pacer.done(due);
    }
    // The last sample is taken as the churn stops, like the others under
    // load; the cycles still running end within their timeout.
    end.cancel();
    let samples = sampler.await.unwrap_or_default();
    if let Some(scraper) = scraper {
        let _ = scraper.await;
    }
    while cycles.join_next().await.is_some() {}
    progress.stop().await;

    let baseline = samples
        .iter()
        .find(|(at, _)| *at >= args.baseline_at)
        .or(samples.first())
        .copied();
    let last = samples.last().copied();
    let growth_percent = match (baseline, last) {
        (Some((_, before)), Some((_, after))) if before > 0 => {
            Some((after as f64 - before as f64) * 100.0 / before as f64)
        }
        _ => None,
    };
    let mut report = env.report(
        "soak",
        settings([
            ("cycle_rate", format!("{}/s", args.cycle_rate)),
            ("concurrent_cycles", common.connections.to_string()),
            ("channels", args.channels.to_string()),
            (
                "users",
                match args.users {
                    0 => "a new one every cycle".to_owned(),
                    users => users.to_string(),
                },
            ),
            (
                "duration",
                humantime::format_duration(common.duration).to_string(),
            ),
            (
                "scrape_every",
                args.scrape_every.map_or_else(
                    || "never".to_owned(),
                    |every| humantime::format_duration(every).to_string(),
                ),
            ),
        ]),
    );
    report.soak = Some(SoakStats {
        cycles: live.cycles.load(Relaxed),
        failed_cycles: live.failed.load(Relaxed),
        error_replies: live.error_replies.load(Relaxed),
        skipped_cycles: live.skipped.load(Relaxed),
        scrapes: live.scrapes.load(Relaxed),
        scrape_failures: live.scrape_failures.load(Relaxed),
        baseline_seconds: baseline.map(|(at, _)| at.as_secs()),
        baseline_rss_bytes: baseline.map(|(_, rss)| rss),
        end_seconds: last.map(|(at, _)| at.as_secs()),
        end_rss_bytes: last.map(|(_, rss)| rss),
        growth_percent,
        rss_samples: samples
            .iter()
            .map(|(at, rss)| (at.as_secs(), *rss))
            .collect(),
    });
    Ok(report)
}

impl Cycle {
    /// One connection's life; failures are counted, never fatal to the run.
    async fn run(self, user: usize) {
        let lived = tokio::time::timeout(self.timeout, self.live_once(user)).await;
        let failure = match lived {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some(format!("cycle not done within {:?}", self.timeout)),
        };
        self.live.cycles.fetch_add(1, Relaxed);
        if let Some(error) = failure {
            self.live.failed.fetch_add(1, Relaxed);
            self.tally.note_error(&error);
        }
    }

    async fn live_once(&self, user: usize) -> Result<(), String> {
        let mut conn = self.client.open(user).await?;
        let first = conn.take_id();
        let frames = [
            native::subscribe_frame(first, &self.stream),
            native::subscribe_frame(conn.take_id(), &self.presence),
            native::presence_frame(conn.take_id(), &self.presence),
            native::publish_frame(conn.take_id(), &self.stream, r#"{"soak":true}"#),
            native::message_send_frame(conn.take_id(), &self.chat, "soak message"),
        ];
        let after = first + frames.len() as u64;
        send_all(&mut conn.ws, frames).await?;
        let (errors, first_error) = native::await_replies(&mut conn, first..after).await?;
        if errors > 0 {
            self.live.error_replies.fetch_add(errors, Relaxed);
            if let Some(error) = first_error {
                self.tally.note_error(&format!("error reply: {error}"));
            }
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.ws.close()).await;
        Ok(())
    }
}

/// Reads the server's RSS every `every` until `end`; returns the samples,
/// each with the time since the start.
async fn sample_rss(
    pid: u32,
    every: Duration,
    live: Arc<Live>,
    end: CancellationToken,
) -> Vec<(Duration, u64)> {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval(every);
    let take = |samples: &mut Vec<(Duration, u64)>| {
        if let Ok(sample) = procstat::sample(pid) {
            live.rss.store(sample.rss_bytes, Relaxed);
            samples.push((start.elapsed(), sample.rss_bytes));
        }
    };
    loop {
        tokio::select! {
            () = end.cancelled() => {
                take(&mut samples);
                return samples;
            }
            _ = ticks.tick() => take(&mut samples),
        }
    }
}

/// Reads `url` (`/metrics`) every `every` until `end`.
async fn scrape(url: String, every: Duration, live: Arc<Live>, end: CancellationToken) {
    let http = reqwest::Client::new();
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = end.cancelled() => return,
            _ = ticks.tick() => {
                let read = async {
                    let response = http.get(&url).send().await?.error_for_status()?;
                    response.bytes().await
                };
                match tokio::time::timeout(every.max(Duration::from_secs(1)), read).await {
                    Ok(Ok(_)) => live.scrapes.fetch_add(1, Relaxed),
                    _ => live.scrape_failures.fetch_add(1, Relaxed),
                };
            }
        }
    }
}

fn progress(live: Arc<Live>) -> Progress {
    Progress::start("soak", move || {
        format!(
            "cycles {}  failed {}  error replies {}  skipped {}  scrapes {}  server RSS {:.1} MiB",
            live.cycles.load(Relaxed),
            live.failed.load(Relaxed),
            live.error_replies.load(Relaxed),
            live.skipped.load(Relaxed),
            live.scrapes.load(Relaxed),
            live.rss.load(Relaxed) as f64 / (1024.0 * 1024.0),
        )
    })
}
