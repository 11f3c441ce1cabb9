//! `connect`: open connections as fast as the server takes them, each
//! with a freshly signed token the server verifies, up to `--connections`
//! or the duration; report the rate and the handshake time.

use super::fanout::no_connection;
use super::{Env, settings};
use crate::cli::ConnectArgs;
use crate::measure::{Window, micros_per, sample_server};
use crate::report::{GeneratorStats, MachineStats, Report, ServerStats};

/// Runs `parley-bench connect`.
pub async fn run(args: ConnectArgs, open_files_limit: u64) -> Result<Report, String> {
    let env = Env::new(args.common, open_files_limit).await?;
    let common = env.common.clone();
    let mut crowd = env.crowd().await?;
    let rss_before = sample_server(common.server_pid).map(|(_, sample)| sample.rss_bytes);
    let window = Window::open(common.server_pid);
    let opened = crowd.open(&env, None, common.duration).await?;
    let mut measured = window.close();
    measured.add_generator(opened.workers_cpu);
    if opened.open == 0 {
        return Err(no_connection(&env));
    }
    let open = opened.open;
    crowd.start(&env, |_| None);
    crowd.finish().await?;

    let mut report = env.report(
        "connect",
        settings([
            ("concurrency", common.connect_concurrency.to_string()),
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
    report.server = ServerStats::from_window(common.server_pid, &measured, rss_before, open, 0);
    report.generator = GeneratorStats::from_window(&measured, 0, env.open_files_limit);
    report.machine = MachineStats::from_window(&measured, 0);
    if let Some(connect) = &mut report.connect {
        connect.server_cpu_us_per_connection = measured
            .server_cpu()
            .and_then(|cpu| micros_per(cpu, open as u64));
        connect.generator_cpu_us_per_connection = micros_per(measured.generator_cpu, open as u64);
    }
    Ok(report)
}
