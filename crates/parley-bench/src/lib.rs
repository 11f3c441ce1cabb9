//! `parley-bench`: a load generator for Parley and other Pusher-compatible
//! realtime servers. It drives a running server over real WebSocket
//! connections and reports deliveries per second, loss, end-to-end
//! latency, connection rates, and the CPU and memory of the server and of
//! itself.
//!
//! - [`cli`]: the command line; [`scenario`]: fanout, broadcast, idle,
//!   connect.
//! - [`protocol`]: the native and Pusher client sides; [`publish`]: the
//!   HTTP APIs; [`driver`]: one connection's run phase; [`setup`]:
//!   opening connections.
//! - [`payload`]: the timestamped payload and its byte scanner;
//!   [`metrics`]: delivery and latency accounting; [`report`]: the table
//!   and the JSON file.
//! - [`procstat`], [`measure`], [`open_files`]: the operating system's view.

pub mod cli;
pub mod credentials;
pub mod driver;
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
pub mod setup;
pub mod socket;
pub mod target;

use cli::Cli;
use report::Report;

/// Runs the scenario the command line asks for, and returns its report.
/// `open_files_limit` is the limit the process runs with, for the report.
pub async fn run(cli: Cli, open_files_limit: u64) -> Result<Report, String> {
    scenario::run(cli.scenario, open_files_limit).await
}
