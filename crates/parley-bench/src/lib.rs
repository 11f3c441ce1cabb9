//! `parley-bench`: a load generator for Parley and other Pusher-compatible
//! realtime servers. It drives a running server over real WebSocket
//! connections and reports deliveries per second, loss, end-to-end
//! latency, connection rates, and the CPU and memory of the server and of
//! itself.
//!
//! - [`cli`]: the command line; [`scenario`]: fanout, broadcast, idle,
//!   connect, presence-storm, chat, docs, reconnect-storm; [`main`]: the whole
//!   program.
//! - [`protocol`]: the native and Pusher client sides; [`publish`]: the
//!   HTTP APIs; [`driver`]: one connection's run phase; [`setup`]:
//!   opening connections.
//! - [`payload`]: the timestamped payload and its byte scanner;
//!   [`metrics`]: delivery and latency accounting; [`report`]: the table
//!   and the JSON file.
//! - [`procstat`], [`measure`], [`open_files`]: the operating system's view;
//!   [`server_counters`]: the server's own store counters.
//! - [`fleet`]: `--processes`, a run over several generator processes.

pub mod cli;
pub mod credentials;
pub mod driver;
pub mod fleet;
pub mod measure;
pub mod metrics;
pub mod open_files;
pub mod pacing;
pub mod payload;
pub mod plan;
pub mod procstat;
pub mod progress;
pub mod protocol;
pub mod publish;
pub mod pusher_sign;
pub mod report;
pub mod scenario;
pub mod server_counters;
pub mod setup;
pub mod socket;
pub mod target;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use cli::Cli;
use report::Report;

/// Runs the scenario the command line asks for, and returns its report.
/// `open_files_limit` is the limit the process runs with, for the report.
pub async fn run(cli: Cli, open_files_limit: u64) -> Result<Report, String> {
    let processes = fleet::check(&cli.scenario)?;
    let mut report = scenario::run(cli.scenario, open_files_limit).await?;
    if processes > 1 {
        report
            .settings
            .insert("processes".to_owned(), processes.to_string());
    }
    Ok(report)
}

/// The whole `parley-bench` program on command line `args` (the first is
/// the program's name, shown in help): raises the open-file limit, runs
/// the scenario on its own multi-threaded runtime, prints the table and
/// writes the JSON file.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let open_files_limit = match open_files::raise_open_files() {
        Ok(limits) if limits.after > limits.before => {
            eprintln!(
                "raised the open-file limit from {} to {} (the hard limit)",
                limits.before, limits.after
            );
            limits.after
        }
        Ok(limits) => {
            eprintln!("open-file limit: {} (already the hard limit)", limits.after);
            limits.after
        }
        Err(error) => {
            eprintln!("warning: cannot raise the open-file limit: {error}");
            0
        }
    };
    let json = cli.scenario.common().json.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(cli.threads.unwrap_or_else(default_threads).max(1));
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("parley-bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(share) = cli.scenario.common().worker {
        let common = cli.scenario.common().clone();
        let ended = runtime.block_on(fleet::worker::run(common, share, open_files_limit));
        // A read of the parent's commands may still wait on a blocking
        // thread, which dropping the runtime would wait for.
        runtime.shutdown_background();
        return match ended {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("parley-bench worker {share}: {error}");
                ExitCode::FAILURE
            }
        };
    }
    fleet::remember_program();
    let report = match runtime.block_on(run(cli, open_files_limit)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("parley-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.table());
    if let Some(path) = json {
        if let Err(error) = report.write_json(&path) {
            eprintln!("parley-bench: {error}");
            return ExitCode::FAILURE;
        }
        eprintln!("report written to {}", path.display());
    }
    ExitCode::SUCCESS
}

/// The generator's worker threads when `--threads` is not given: one on a
/// machine of two cores or fewer, which the generator shares with the
/// server (one thread costs less CPU per delivery there, and reads a
/// million deliveries a second), else one per core.
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores <= 2 { 1 } else { cores }
}
