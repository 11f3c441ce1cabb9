//! The `parley` binary.

use std::process::ExitCode;

use clap::Parser;
use parley_server::cli::Cli;

fn main() -> ExitCode {
    Cli::parse().run()
}
