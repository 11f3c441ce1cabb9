//! `idle`: open connections, hold them for the duration, and report the
//! server's resident memory per connection (sampled before opening and
//! after) and the CPU it spends on idle connections.

use super::fanout::no_connection;
use super::{Env, settings};
use crate::cli::IdleArgs;
use crate::measure::{Window, sample_server};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::{GeneratorStats, MachineStats, Report, ServerStats};

/// Runs `parley-bench idle`.
pub async fn run(args: IdleArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    let subscriptions = if args.channels > 0 {
        let plan = Plan::new(common.connections, args.channels, None)?;
        Some((plan, env.channel_prefix(false)?))
    } else {
        None
    };
    if common.server_pid.is_none() {
        eprintln!("no --server-pid: the server's memory will not be measured");
    }

    let mut crowd = env.crowd().await?;
    tokio::time::sleep(args.settle).await;
    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let subscriptions = subscriptions
        .as_ref()
        .map(|(plan, prefix)| (*plan, prefix.as_str()));
    let opened = crowd.open(&env, subscriptions, common.open_timeout).await?;
    if opened.open == 0 {
        return Err(no_connection(&env));
    }
    let open = opened.open;
    crowd.start(&env, |_| None);
    tokio::time::sleep(args.settle).await;

    let window = Window::open(common.server_pid);
    let progress = {
        let (tally, pid) = (env.tally.clone(), common.server_pid);
        Progress::start("hold", move || {
            let snapshot = tally.snapshot();
            let closed = snapshot.slow_disconnects + snapshot.other_closes + snapshot.dropped;
            let rss = sample_server(pid).map_or_else(
                || "n/a".to_owned(),
                |(_, s)| format!("{:.1} MiB", s.rss_bytes as f64 / 1048576.0),
            );
            format!(
                "{} connections held, {closed} closed | server rss {rss}",
                open
            )
        })
    };
    crowd.start_window().await?;
    tokio::select! {
        () = tokio::time::sleep(common.duration) => {}
        error = crowd.failed() => return Err(error),
    }
    let mut measured = window.close();
    measured.add_generator(crowd.close_window().await?);
    progress.stop().await;
    crowd.finish().await?;

    let mut report = env.report(
        "idle",
        settings([
            ("channels", args.channels.to_string()),
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
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    Ok(report)
}
