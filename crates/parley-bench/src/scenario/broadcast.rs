//! `broadcast`: one channel with every connection subscribed; each
//! publication is delivered to all of them.

use super::Env;
use super::fanout::{Workload, run_workload};
use crate::cli::BroadcastArgs;
use crate::report::Report;

/// Runs `parley-bench broadcast`.
pub async fn run(args: BroadcastArgs, open_files_limit: u64) -> Result<Report, String> {
    let connections = args.common.connections;
    let env = Env::new(args.common, open_files_limit).await?;
    let workload = Workload {
        scenario: "broadcast",
        channels: 1,
        subscribers: Some(connections),
        rate: args.load.rate.unwrap_or(10.0),
        batch: args.load.batch.unwrap_or(1),
        publishers: Some(args.load.publishers.unwrap_or(1)),
        load: args.load,
    };
    run_workload(env, workload).await
}
