//! Runs of more connections than one process may hold: `--processes K`
//! re-executes this program K times as workers, each opening and holding
//! its share of the connections, while the parent publishes, measures and
//! reports for the whole run.
//!
//! One process holds at most as many sockets as its open-file limit allows
//! (a hard limit no process can raise), so a run of 40,000 connections
//! needs several. The parent keeps everything a run does once (the
//! publishing, the expected deliveries computed from the whole layout, the
//! measured window, the progress line, the table and the JSON file); the
//! workers only open, subscribe and read.
//!
//! - [`Share`]: which connections a worker opens (`--worker i/K`): indices
//!   `i, i + K, i + 2K, …`, so the channel layout and the source address of
//!   every connection are exactly those of a one-process run.
//! - [`wire`]: the JSON lines between them (commands on a worker's stdin,
//!   counters and the latency histogram's buckets on its stdout).
//! - [`Fleet`]: the parent's side: spawning, commanding, merging the
//!   workers' counters into its own tally, and failing the run, with the
//!   worker's stderr, when one dies.
//! - [`worker`]: the worker's side.

mod parent;
pub mod wire;
pub mod worker;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

pub use parent::Fleet;

use crate::cli::{PublishVia, Scenario};

/// The most worker processes one run may start.
pub const MAX_PROCESSES: usize = 64;

/// A worker's share of a run's connections: number `index` of `of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This worker's number, from 0.
    pub index: usize,
    /// How many workers there are.
    pub of: usize,
}

impl Share {
    /// The whole run, in one process.
    pub const WHOLE: Share = Share { index: 0, of: 1 };

    /// The connection indices of this share among `count`, ascending.
    pub fn indices(self, count: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        (self.index..count).step_by(self.of)
    }

    /// How many of `count` connections are this share's.
    pub fn len(self, count: usize) -> usize {
        self.indices(count).len()
    }

    /// Whether the share holds none of `count` connections.
    pub fn is_empty(self, count: usize) -> bool {
        self.len(count) == 0
    }

    /// This share's part of `total` (such as handshakes in flight), at
    /// least one: the parts of all shares add up to `total`.
    pub fn part(self, total: usize) -> usize {
        (total / self.of + usize::from(self.index < total % self.of)).max(1)
    }

    /// The `k`-th connection index of this share.
    pub fn nth(self, k: usize) -> usize {
        self.index + k * self.of
    }
}

impl FromStr for Share {
    type Err = String;

    /// Parses `i/K`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (index, of) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a share such as 0/2"))?;
        let parse = |part: &str| {
            part.parse::<usize>()
                .map_err(|error| format!("{text:?} is not a share such as 0/2: {error}"))
        };
        let (index, of) = (parse(index)?, parse(of)?);
        if of == 0 || index >= of {
            return Err(format!(
                "{text:?}: the worker's number must be below the count"
            ));
        }
        Ok(Self { index, of })
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// Checks that `scenario` can run with its `--processes`, and returns the
/// count.
pub fn check(scenario: &Scenario) -> Result<usize, String> {
    let common = scenario.common();
    let processes = common.processes;
    if processes == 0 || processes > MAX_PROCESSES {
        return Err(format!("--processes must be from 1 to {MAX_PROCESSES}"));
    }
    if processes == 1 || common.worker.is_some() {
        return Ok(processes);
    }
    if processes > common.connections {
        return Err(format!(
            "--processes {processes} needs at least {processes} connections"
        ));
    }
    match scenario {
        Scenario::Fanout(args) if args.load.publish_via == PublishVia::Ws => Err(
            "--processes publishes from the parent only: use --publish-via http".into(),
        ),
        Scenario::Broadcast(args) if args.load.publish_via == PublishVia::Ws => Err(
            "--processes publishes from the parent only: use --publish-via http".into(),
        ),
        Scenario::Fanout(_) | Scenario::Broadcast(_) | Scenario::Idle(_) | Scenario::Connect(_) => {
            Ok(processes)
        }
        _ => Err(
            "--processes works with fanout, broadcast, idle and connect; run this scenario in one process"
                .into(),
        ),
    }
}

/// How to start this program again: its executable and the arguments it
/// was started with.
#[derive(Debug, Clone)]
struct Program {
    exe: PathBuf,
    args: Vec<OsString>,
}

/// This program, once [`remember_program`] ran; unset when the library
/// runs inside another program (tests), which cannot be re-executed as a
/// generator.
static PROGRAM: OnceLock<Program> = OnceLock::new();

/// Records how this process was started, so that `--processes` can start
/// workers; [`crate::main`] calls it.
pub fn remember_program() {
    if let Ok(exe) = std::env::current_exe() {
        let args = std::env::args_os().skip(1).collect();
        let _ = PROGRAM.set(Program { exe, args });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_and_split_the_indices() {
        let share: Share = "1/3".parse().unwrap();
        assert_eq!(share, Share { index: 1, of: 3 });
        assert_eq!(share.to_string(), "1/3");
        assert_eq!(share.indices(8).collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(share.len(8), 3);
        assert_eq!(share.nth(2), 7);
        assert!(Share { index: 2, of: 3 }.is_empty(2));
        assert_eq!(Share::WHOLE.len(5), 5);
        let parts: Vec<usize> = (0..3)
            .map(|index| Share { index, of: 3 }.part(128))
            .collect();
        assert_eq!(parts, vec![43, 43, 42]);
        assert_eq!(Share { index: 2, of: 3 }.part(1), 1);
        for bad in ["3/3", "0/0", "1", "a/2", "1/b", "-1/2"] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
    }

    fn scenario(args: &[&str]) -> Scenario {
        use clap::Parser;
        let argv = std::iter::once("parley-bench").chain(args.iter().copied());
        crate::cli::Cli::try_parse_from(argv).unwrap().scenario
    }

    #[test]
    fn processes_are_refused_where_the_run_cannot_be_split() {
        let ok = |args: &[&str]| check(&scenario(args));
        assert_eq!(ok(&["fanout"]), Ok(1));
        assert_eq!(ok(&["fanout", "--processes", "2"]), Ok(2));
        assert_eq!(ok(&["broadcast", "--processes", "3"]), Ok(3));
        assert_eq!(ok(&["idle", "--processes", "2"]), Ok(2));
        assert_eq!(ok(&["connect", "--processes", "2"]), Ok(2));
        let refused = |args: &[&str]| check(&scenario(args)).unwrap_err();
        assert!(refused(&["chat", "--processes", "2"]).contains("one process"));
        assert!(refused(&["docs", "--processes", "2"]).contains("one process"));
        assert!(refused(&["presence-storm", "--processes", "2"]).contains("one process"));
        assert!(
            refused(&["fanout", "--processes", "2", "--publish-via", "ws"])
                .contains("--publish-via http")
        );
        assert!(refused(&["idle", "--processes", "0"]).contains("from 1"));
        assert!(refused(&["idle", "--processes", "65"]).contains("from 1"));
        assert!(
            refused(&["idle", "--processes", "3", "--connections", "2"]).contains("at least 3")
        );
        // A worker runs its share whatever the scenario's other flags say.
        assert_eq!(ok(&["idle", "--processes", "2", "--worker", "1/2"]), Ok(2));
    }

    #[test]
    fn every_connection_is_in_exactly_one_share() {
        let count = 1001;
        let mut seen = vec![0; count];
        for index in 0..4 {
            for conn in (Share { index, of: 4 }).indices(count) {
                seen[conn] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}
