//! The connections of a run, held in this process or, with `--processes`,
//! by worker processes ([`crate::fleet`]): opening them, running them, the
//! workers' part of the measured window, and closing them. Scenarios that
//! support `--processes` open their connections through a [`Crowd`], the
//! same code either way.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::{Env, Running};
use crate::driver::Publishing;
use crate::fleet::Fleet;
use crate::fleet::wire::{Command, Subscriptions};
use crate::metrics::latency_histogram;
use crate::plan::Plan;
use crate::procstat::CpuSplit;
use crate::progress::Progress;
use crate::protocol::Conn;
use crate::setup::{self, Opening};

/// Where a run's connections are held.
#[derive(Debug)]
pub enum Crowd {
    /// In this process: the connections once open, then their tasks.
    Here {
        /// Open, not yet running.
        conns: Vec<Conn>,
        /// Running.
        running: Option<Running>,
    },
    /// In worker processes, which start reading them as soon as they are
    /// open.
    Workers(Fleet),
}

/// How opening went, wherever the connections are.
#[derive(Debug)]
pub struct Turnout {
    /// Connections open.
    pub open: usize,
    /// Connections that failed to open or subscribe.
    pub failed: usize,
    /// Handshake times, µs.
    pub connect_latency: Histogram<u64>,
    /// How long opening took.
    pub elapsed: Duration,
    /// The open connections' indices, ascending.
    pub indices: Vec<usize>,
    /// CPU time worker processes spent opening (none when the connections
    /// are here: the caller measures this process).
    pub workers_cpu: CpuSplit,
}

impl Env {
    /// Where this run's connections will be held: here, or in
    /// `--processes` worker processes, started now.
    pub async fn crowd(&self) -> Result<Crowd, String> {
        if self.common.processes <= 1 {
            return Ok(Crowd::Here {
                conns: Vec::new(),
                running: None,
            });
        }
        let fleet = Fleet::start(self.common.processes, self.tally.clone()).await?;
        eprintln!("{} worker processes started", self.common.processes);
        Ok(Crowd::Workers(fleet))
    }
}

impl Crowd {
    /// Opens `--connections` connections, subscribed as `subscriptions`
    /// says (with the channels' `prefix`), giving up on more after
    /// `within`.
    pub async fn open(
        &mut self,
        env: &Env,
        subscriptions: Option<(Plan, &str)>,
        within: Duration,
    ) -> Result<Turnout, String> {
        let count = env.common.connections;
        match self {
            Crowd::Here { conns, .. } => {
                let names = subscriptions.map(|(plan, prefix)| {
                    let names: Arc<[String]> = (0..plan.channels)
                        .map(|channel| crate::plan::channel_name(prefix, channel))
                        .collect();
                    (plan, names)
                });
                let opening = Opening {
                    count,
                    concurrency: env.common.connect_concurrency,
                    deadline: Instant::now() + within,
                    subscriptions: names,
                };
                let opened = setup::open_all(env.client.clone(), opening, env.tally.clone()).await;
                *conns = opened.conns;
                Ok(Turnout {
                    open: conns.len(),
                    failed: opened.failed,
                    connect_latency: opened.connect_latency,
                    elapsed: opened.elapsed,
                    indices: conns.iter().map(|conn| conn.index).collect(),
                    workers_cpu: CpuSplit::default(),
                })
            }
            Crowd::Workers(fleet) => {
                let command = Command::Open {
                    subscriptions: subscriptions.map(|(plan, prefix)| Subscriptions {
                        channels: plan.channels,
                        subscribers: plan.subscribers,
                        prefix: prefix.to_owned(),
                    }),
                    within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
                };
                let started = Instant::now();
                let progress = open_progress(fleet, count);
                let shares = fleet.open(command, within + env.common.step_timeout).await;
                progress.stop().await;
                let shares = shares?;
                let mut turnout = Turnout {
                    open: 0,
                    failed: 0,
                    connect_latency: latency_histogram(),
                    elapsed: started.elapsed(),
                    indices: Vec::with_capacity(count),
                    workers_cpu: CpuSplit::default(),
                };
                let mut missing = Vec::new();
                for share in shares {
                    turnout.open += share.open;
                    turnout.failed += share.failed;
                    let latency = share.connect_latency.histogram()?;
                    // Both made by `latency_histogram`: adding cannot fail.
                    let _ = turnout.connect_latency.add(&latency);
                    let cpu = CpuSplit::from(share.cpu);
                    turnout.workers_cpu.user += cpu.user;
                    turnout.workers_cpu.system += cpu.system;
                    missing.extend(share.missing);
                }
                missing.sort_unstable();
                let mut missing = missing.into_iter().peekable();
                turnout.indices = (0..count)
                    .filter(|&index| missing.next_if_eq(&index).is_none())
                    .collect();
                eprintln!(
                    "opened {} connections in {:.2}s ({} failed) over {} processes",
                    turnout.open,
                    turnout.elapsed.as_secs_f64(),
                    turnout.failed,
                    env.common.processes
                );
                Ok(turnout)
            }
        }
    }

    /// Starts reading (and, here, publishing from) the open connections;
    /// `publishing` says what each connection held here publishes. Worker
    /// processes are reading already and publish nothing.
    pub fn start(&mut self, env: &Env, publishing: impl FnMut(&Conn) -> Option<Publishing>) {
        if let Crowd::Here { conns, running } = self {
            *running = Some(Running::start(env, std::mem::take(conns), publishing));
        }
    }

    /// Opens the measured window in the worker processes.
    pub async fn start_window(&mut self) -> Result<(), String> {
        match self {
            Crowd::Here { .. } => Ok(()),
            Crowd::Workers(fleet) => fleet.start_window().await,
        }
    }

    /// Closes the measured window in the worker processes: their final
    /// counters are in the tally once this returns. Returns the CPU time
    /// they used in the window (none here: the caller measures this
    /// process).
    pub async fn close_window(&mut self) -> Result<CpuSplit, String> {
        match self {
            Crowd::Here { .. } => Ok(CpuSplit::default()),
            Crowd::Workers(fleet) => fleet.close_window().await,
        }
    }

    /// Waits until a worker process ends before its time (never, when the
    /// connections are here), and returns the error that fails the run.
    pub async fn failed(&mut self) -> String {
        match self {
            Crowd::Here { .. } => std::future::pending().await,
            Crowd::Workers(fleet) => fleet.failed().await,
        }
    }

    /// Closes every connection, and waits (bounded) for them.
    pub async fn finish(self) -> Result<(), String> {
        match self {
            Crowd::Here { running, .. } => {
                if let Some(running) = running {
                    running.finish().await;
                }
                Ok(())
            }
            Crowd::Workers(fleet) => fleet.finish().await,
        }
    }
}

/// The progress line while worker processes open their connections.
fn open_progress(fleet: &Fleet, count: usize) -> Progress {
    let opening = fleet.opening_counter();
    Progress::start("open", move || {
        let (opened, failed) = opening();
        format!("{opened}/{count} connections open, {failed} failed")
    })
}
