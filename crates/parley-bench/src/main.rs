//! The `parley-bench` binary: raises the open-file limit, runs the scenario
//! on a multi-threaded runtime, prints the table and writes the JSON file.

use std::process::ExitCode;

use clap::Parser;
use parley_bench::cli::{Cli, Scenario};
use parley_bench::open_files;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    let json = match &cli.scenario {
        Scenario::Fanout(args) => args.common.json.clone(),
        Scenario::Broadcast(args) => args.common.json.clone(),
        Scenario::Idle(args) => args.common.json.clone(),
        Scenario::Connect(args) => args.common.json.clone(),
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("parley-bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = match runtime.block_on(parley_bench::run(cli, open_files_limit)) {
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
