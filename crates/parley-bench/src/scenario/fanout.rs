//! `fanout`: connections subscribed to channels, publications at a rate,
//! and every delivery counted and timed. [`run_workload`] is also the
//! engine of `broadcast`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Env, settings};
use crate::cli::{FanoutArgs, LoadArgs, PublishVia};
use crate::driver::Publishing;
use crate::measure::{Window, sample_server};
use crate::metrics::Snapshot;
use crate::pacing::Pacer;
use crate::plan::{Plan, channel_name};
use crate::progress::Progress;
use crate::protocol::Protocol;
use crate::publish::{self, HttpLoad, HttpPublisher};
use crate::report::{
    Deliveries, GeneratorStats, MachineStats, Percentiles, Publications, Report, ServerStats,
};

/// Parley's default sustained command rate per connection.
const NATIVE_COMMAND_RATE: f64 = 100.0;

/// How often the drain checks whether everything arrived.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// A publishing workload, with the scenario's defaults applied.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The scenario's name, for the report.
    pub scenario: &'static str,
    /// Channels.
    pub channels: usize,
    /// Subscribers per channel (default: connections / channels).
    pub subscribers: Option<usize>,
    /// Publications per second.
    pub rate: f64,
    /// The most publications per HTTP request.
    pub batch: usize,
    /// With `--publish-via ws`: connections that publish (default: all
    /// subscribed ones).
    pub publishers: Option<usize>,
    /// The rest of the publishing flags.
    pub load: LoadArgs,
}

/// Runs `parley-bench fanout`.
pub async fn run(args: FanoutArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let workload = Workload {
        scenario: "fanout",
        channels: args.channels,
        subscribers: args.subscribers,
        rate: args.load.rate.unwrap_or(1000.0),
        batch: args.load.batch.unwrap_or(100),
        publishers: args.load.publishers,
        load: args.load,
    };
    run_workload(env, workload).await
}

/// Opens and subscribes the connections, publishes for the duration,
/// waits for deliveries still on their way, and reports.
pub async fn run_workload(env: Env, work: Workload) -> Result<Report, String> {
    let common = env.common.clone();
    if work.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    if !(work.rate > 0.0 && work.rate.is_finite()) {
        return Err("--rate must be above zero".into());
    }
    let plan = Plan::new(common.connections, work.channels, work.subscribers)?;
    let via = work.load.publish_via;
    let client_events = common.protocol == Protocol::Pusher && via == PublishVia::Ws;
    let prefix = env.channel_prefix(client_events)?;
    let names: Arc<[String]> = (0..plan.channels)
        .map(|channel| channel_name(&prefix, channel))
        .collect();
    let publisher = match via {
        PublishVia::Http => Some(Arc::new(HttpPublisher::new(
            common.protocol,
            &env.client.target,
            env.client.credentials(),
            work.load.http_connections,
        )?)),
        PublishVia::Ws => None,
    };
    if client_events {
        env.client.credentials().secret()?;
        eprintln!(
            "Pusher client events: the app must allow them, and Pusher limits them to 10/s per connection"
        );
    }

    let mut crowd = env.crowd().await?;
    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let opened = crowd
        .open(&env, Some((plan, &prefix)), common.open_timeout)
        .await?;
    if opened.open == 0 {
        return Err(no_connection(&env));
    }
    // The subscribers each channel really has, should some connections
    // have failed to open.
    let mut fanouts = vec![0u64; plan.channels];
    for &index in &opened.indices {
        for channel in plan.channels_of(index) {
            fanouts[channel] += 1;
        }
    }
    let open = opened.open;
    let limit = work.load.max_publications.unwrap_or(u64::MAX);

    let window = Window::open(common.server_pid);
    crowd.start_window().await?;
    let start = Instant::now();
    let deadline = start + common.duration;
    match via {
        PublishVia::Http => crowd.start(&env, |_| None),
        PublishVia::Ws => {
            let candidates: Vec<usize> = opened
                .indices
                .iter()
                .copied()
                .filter(|&index| !plan.channels_of(index).is_empty())
                .collect();
            let count = work
                .publishers
                .unwrap_or(candidates.len())
                .clamp(1, candidates.len().max(1));
            let chosen: std::collections::HashMap<usize, usize> = candidates
                .iter()
                .take(count)
                .enumerate()
                .map(|(rank, &index)| (index, rank))
                .collect();
            let rate = work.rate / count as f64;
            if common.protocol == Protocol::Native && rate > NATIVE_COMMAND_RATE {
                eprintln!(
                    "warning: {rate:.0} publications/s per connection; Parley allows {NATIVE_COMMAND_RATE} commands/s per connection by default (commands_per_second): use more --publishers"
                );
            }
            let echo = env.client.echoes_to_sender();
            crowd.start(&env, |conn| {
                let rank = *chosen.get(&conn.index)?;
                let own = plan.channels_of(conn.index);
                let share = limit / count as u64 + u64::from((rank as u64) < limit % count as u64);
                let offset = Duration::from_secs_f64(rank as f64 / count as f64 / rate)
                    .min(Duration::from_secs(1));
                Some(Publishing {
                    channels: own.iter().map(|&c| names[c].clone()).collect(),
                    fanouts: own.iter().map(|&c| fanouts[c] - u64::from(!echo)).collect(),
                    pacer: Pacer::new(start + offset, rate, share),
                    deadline,
                    payload_bytes: work.load.payload_bytes,
                    first_seq: rank as u64,
                    seq_step: count as u64,
                    active: env.tally.publisher(),
                })
            })
        }
    }

    let progress = progress(&env);
    // A worker process that dies ends the run at once.
    let publishing = async {
        match &publisher {
            Some(publisher) => {
                let load = HttpLoad {
                    publishers: work.load.http_connections,
                    rate: work.rate,
                    batch: work.batch,
                    limit,
                    payload_bytes: work.load.payload_bytes,
                    channels: names.clone(),
                    fanouts: fanouts.clone().into(),
                    start,
                    deadline,
                };
                publish::run(
                    publisher.clone(),
                    load,
                    env.tally.clone(),
                    CancellationToken::new(),
                )
                .await;
            }
            None => {
                // Until every publishing connection has stopped (each stops
                // at the deadline or when its share is sent), bounded in
                // case one is stuck writing to a server that stopped
                // reading.
                let give_up = deadline + work.load.drain;
                while env.tally.publishers() > 0 && Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let published_for = start.elapsed().min(common.duration);
        drain(&env, work.load.drain).await;
        published_for
    };
    let published_for = tokio::select! {
        published_for = publishing => published_for,
        error = crowd.failed() => return Err(error),
    };
    let mut measured = window.close();
    measured.add_generator(crowd.close_window().await?);
    progress.stop().await;
    let snapshot = env.tally.snapshot();
    let latency = env.tally.latency();
    crowd.finish().await?;

    let batch = match via {
        PublishVia::Http => work.batch.to_string(),
        PublishVia::Ws => "-".to_owned(),
    };
    let mut report = env.report(
        work.scenario,
        settings([
            ("channels", plan.channels.to_string()),
            ("subscribers per channel", plan.subscribers.to_string()),
            ("rate", format!("{} /s", work.rate)),
            ("payload bytes", work.load.payload_bytes.to_string()),
            ("publish via", via.name().to_owned()),
            ("batch", batch),
            (
                "duration",
                humantime::format_duration(common.duration).to_string(),
            ),
        ]),
    );
    report.record_opening(
        plan.connections,
        open,
        opened.failed,
        opened.elapsed,
        &opened.connect_latency,
    );
    report.publications = Some(Publications {
        via: via.name().to_owned(),
        target_rate: work.rate,
        sent: snapshot.sent,
        accepted: snapshot.accepted,
        failed: snapshot.failed,
        per_second: snapshot.accepted as f64 / published_for.as_secs_f64().max(1e-9),
    });
    report.deliveries = Some(Deliveries::from_snapshot(&snapshot, &measured));
    report.latency_ms = Some(Percentiles::from_micros(&latency));
    report.server = ServerStats::from_window(
        common.server_pid,
        &measured,
        rss_before,
        open,
        snapshot.delivered,
    );
    report.generator =
        GeneratorStats::from_window(&measured, snapshot.delivered, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, snapshot.delivered);
    Ok(report)
}

/// Waits until every publication is answered and every expected delivery
/// arrived, or `limit` passed.
async fn drain(env: &Env, limit: Duration) {
    let until = Instant::now() + limit;
    loop {
        let snapshot = env.tally.snapshot();
        if snapshot.unanswered() == 0 && snapshot.delivered >= snapshot.expected {
            return;
        }
        if Instant::now() >= until {
            eprintln!(
                "drain ended after {limit:?} with {} deliveries missing and {} publications unanswered",
                snapshot.expected.saturating_sub(snapshot.delivered),
                snapshot.unanswered()
            );
            return;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// The error when no connection could be opened, with the first reasons.
pub fn no_connection(env: &Env) -> String {
    let reasons: Vec<String> = env
        .tally
        .errors()
        .into_iter()
        .take(3)
        .map(|(message, count)| format!("{count}× {message}"))
        .collect();
    format!("no connection could be opened: {}", reasons.join("; "))
}

/// The progress line of the publishing phase.
fn progress(env: &Env) -> Progress {
    let tally = env.tally.clone();
    let pid = env.common.server_pid;
    let mut last = Snapshot::default();
    let mut last_server = sample_server(pid).map(|(_, sample)| sample);
    Progress::start("run", move || {
        let now = tally.snapshot();
        let p99 = tally.latency().value_at_quantile(0.99) as f64 / 1000.0;
        let mut line = format!(
            "published {} (+{}) | delivered {} (+{}) | behind {} | p99 {p99:.2} ms | slow {}",
            now.accepted,
            now.accepted - last.accepted,
            now.delivered,
            now.delivered - last.delivered,
            now.expected.saturating_sub(now.delivered),
            now.slow_disconnects,
        );
        if let (Some(before), Some((_, after))) = (last_server, sample_server(pid)) {
            let cpu = after.cpu.saturating_sub(before.cpu).as_secs_f64() * 100.0;
            line.push_str(&format!(
                " | server cpu {cpu:.0}% rss {:.0} MiB",
                after.rss_bytes as f64 / 1048576.0
            ));
            last_server = Some(after);
        }
        last = now;
        line
    })
}
