//! A worker process (`--worker i/K`): opens its share of the connections
//! when told, reads them until told to stop, and reports on stdout. Its
//! stdin closing, at any point, means the parent is done (or gone): it
//! closes its connections and exits.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Share;
use super::wire::{Buckets, Command, Counts, Line, OpenedShare};
use crate::cli::CommonArgs;
use crate::plan::{Plan, channel_name};
use crate::procstat;
use crate::scenario::{Env, Running};
use crate::setup::{self, OpenCounts, Opening};

/// How often a worker reports its counters.
const TICK: Duration = Duration::from_millis(100);
/// Every how many ticks a report carries the latency histogram.
const LATENCY_EVERY: u32 = 10;

/// Runs worker `share` of a run with flags `common`.
pub async fn run(common: CommonArgs, share: Share, open_files_limit: u64) -> Result<(), String> {
    let env = Env::new(common, open_files_limit).await?;
    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    send(&Line::Ready)?;
    let (subscriptions, within) = match next_command(&mut commands).await? {
        Some(Command::Open {
            subscriptions,
            within_ms,
        }) => (subscriptions, Duration::from_millis(within_ms)),
        Some(other) => return Err(format!("expected the open command, got {other:?}")),
        None => return Ok(()),
    };
    let subscriptions = match subscriptions {
        Some(layout) => {
            let plan = Plan::new(
                env.common.connections,
                layout.channels,
                Some(layout.subscribers),
            )?;
            crate::plan::check_prefix(&layout.prefix)?;
            let names = (0..plan.channels)
                .map(|channel| channel_name(&layout.prefix, channel))
                .collect();
            Some((plan, names))
        }
        None => None,
    };

    let counts = Arc::new(OpenCounts::default());
    let ticking = CancellationToken::new();
    let mut ticker = Some(tokio::spawn(tick(
        env.tally.clone(),
        counts.clone(),
        ticking.clone(),
    )));
    let cpu_before = procstat::self_cpu_split();
    let opened = setup::open_share(
        env.client.clone(),
        Opening {
            count: env.common.connections,
            // The flag counts handshakes in flight for the whole run.
            concurrency: share.part(env.common.connect_concurrency),
            deadline: Instant::now() + within,
            subscriptions,
        },
        share,
        counts.clone(),
        env.tally.clone(),
    )
    .await;
    let cpu_open = procstat::self_cpu_split();
    let mut open_indices = opened.conns.iter().map(|conn| conn.index).peekable();
    let missing = share
        .indices(env.common.connections)
        .filter(|&index| open_indices.next_if_eq(&index).is_none())
        .collect();
    send(&Line::Opened {
        counts: counts_now(&env, &counts, false),
        opened: OpenedShare {
            open: opened.conns.len(),
            failed: opened.failed,
            missing,
            seconds: opened.elapsed.as_secs_f64(),
            connect_latency: Buckets::of(&opened.connect_latency),
            cpu: cpu_open.since(&cpu_before).into(),
        },
    })?;

    let running = Running::start(&env, opened.conns, |_| None);
    let mut window_start = cpu_open;
    let ended = loop {
        match next_command(&mut commands).await {
            Ok(Some(Command::Start)) => window_start = procstat::self_cpu_split(),
            Ok(Some(Command::Stop)) => {
                let cpu = procstat::self_cpu_split().since(&window_start);
                // No tick may follow the final counters.
                ticking.cancel();
                if let Some(ticker) = ticker.take() {
                    let _ = ticker.await;
                }
                if let Err(error) = send(&Line::Result {
                    counts: counts_now(&env, &counts, true),
                    cpu: cpu.into(),
                }) {
                    break Err(error);
                }
            }
            Ok(Some(other)) => break Err(format!("unexpected command {other:?}")),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    ticking.cancel();
    running.finish().await;
    ended
}

/// Reports the counters every [`TICK`] until `stop`.
async fn tick(tally: Arc<crate::metrics::Tally>, counts: Arc<OpenCounts>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u32;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        n += 1;
        let line = Line::Tick {
            counts: Counts::of(
                &tally,
                counts.opened.load(Relaxed),
                counts.failed.load(Relaxed),
                n.is_multiple_of(LATENCY_EVERY),
            ),
        };
        if send(&line).is_err() {
            // The parent is gone; the command loop sees its stdin close.
            return;
        }
    }
}

fn counts_now(env: &Env, counts: &OpenCounts, latency: bool) -> Counts {
    Counts::of(
        &env.tally,
        counts.opened.load(Relaxed),
        counts.failed.load(Relaxed),
        latency,
    )
}

/// Writes `line` to stdout as one line of JSON. A line is written whole
/// under the stdout lock, so the ticker and the command loop never
/// interleave.
fn send(line: &Line) -> Result<(), String> {
    let mut text = serde_json::to_string(line).map_err(|error| error.to_string())?;
    text.push('\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot report to the parent: {error}"))
}

/// The next command, or none once stdin is closed.
async fn next_command(commands: &mut Lines<BufReader<Stdin>>) -> Result<Option<Command>, String> {
    match commands.next_line().await {
        Ok(Some(text)) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| format!("not a command ({error}): {text:.200}")),
        Ok(None) => Ok(None),
        Err(error) => Err(format!("cannot read commands: {error}")),
    }
}
