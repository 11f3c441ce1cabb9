//! A measured window of a run: wall time, this process's CPU time, the
//! server's CPU time and memory, and the whole machine's busy time and load
//! between its start and its end.

use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

use crate::procstat::{self, CpuSplit, MachineSample, ProcSample};

/// The start of a measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    started: Instant,
    self_cpu: CpuSplit,
    server: Option<(ServerPids, ProcSample)>,
    machine: Option<MachineSample>,
}

/// What happened in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Wall time.
    pub elapsed: Duration,
    /// CPU time the generator used: this process, and its workers' once
    /// added.
    pub generator_cpu: Duration,
    /// The same, split into user and system time.
    pub generator_split: CpuSplit,
    /// The server's samples at the start and at the end, when its pid was
    /// given and readable.
    pub server: Option<(ProcSample, ProcSample)>,
    /// The machine's samples at the start and at the end, when readable.
    pub machine: Option<(MachineSample, MachineSample)>,
}

/// The most server processes `--server-pid` lists.
pub const MAX_SERVER_PIDS: usize = 16;

/// The server's processes, `--server-pid 123` or, for the nodes of a
/// cluster, `--server-pid 123,456,789`: their CPU time and memory are
/// summed, so figures per delivery are the whole deployment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPids {
    pids: [u32; MAX_SERVER_PIDS],
    len: usize,
}

impl ServerPids {
    /// The processes.
    pub fn as_slice(&self) -> &[u32] {
        &self.pids[..self.len]
    }

    /// The first process (the one a single-server measure reads).
    pub fn first(&self) -> u32 {
        self.pids[0]
    }
}

impl FromStr for ServerPids {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut pids = [0; MAX_SERVER_PIDS];
        let mut len = 0;
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            if len == MAX_SERVER_PIDS {
                return Err(format!("at most {MAX_SERVER_PIDS} server pids"));
            }
            pids[len] = part
                .parse()
                .map_err(|_| format!("{part:?} is not a process id"))?;
            len += 1;
        }
        if len == 0 {
            return Err("no process id".into());
        }
        Ok(Self { pids, len })
    }
}

/// Samples the server's processes, summed; warns on stderr and gives
/// nothing when one cannot be read.
pub fn sample_server(pids: Option<ServerPids>) -> Option<(ServerPids, ProcSample)> {
    let pids = pids?;
    let mut total = ProcSample::default();
    for &pid in pids.as_slice() {
        match procstat::sample(pid) {
            Ok(sample) => total.add(&sample),
            Err(error) => {
                eprintln!("warning: cannot read /proc/{pid}: {error}");
                return None;
            }
        }
    }
    Some((pids, total))
}

impl Window {
    /// Opens a window now, sampling the server `pid` if given.
    pub fn open(server_pid: Option<ServerPids>) -> Self {
        Self {
            server: sample_server(server_pid),
            machine: procstat::machine().ok(),
            self_cpu: procstat::self_cpu_split(),
            started: Instant::now(),
        }
    }

    /// Closes the window now.
    pub fn close(&self) -> Measured {
        let elapsed = self.started.elapsed();
        let generator_split = procstat::self_cpu_split().since(&self.self_cpu);
        let server = self
            .server
            .and_then(|(pids, before)| sample_server(Some(pids)).map(|(_, after)| (before, after)));
        let machine = self.machine.zip(procstat::machine().ok());
        Measured {
            elapsed,
            generator_cpu: generator_split.total(),
            generator_split,
            server,
            machine,
        }
    }
}

impl Measured {
    /// Adds CPU time the generator's worker processes used in the window
    /// (see [`crate::fleet`]): the generator is all its processes.
    pub fn add_generator(&mut self, workers: CpuSplit) {
        self.generator_split.user += workers.user;
        self.generator_split.system += workers.system;
        self.generator_cpu = self.generator_split.total();
    }

    /// The server's CPU time in the window.
    pub fn server_cpu(&self) -> Option<Duration> {
        self.server
            .map(|(before, after)| after.cpu.saturating_sub(before.cpu))
    }

    /// The server's CPU time in the window, split into user and system.
    pub fn server_split(&self) -> Option<CpuSplit> {
        self.server
            .map(|(before, after)| after.split.since(&before.split))
    }

    /// The CPU time every process on the machine used in the window.
    pub fn machine_busy(&self) -> Option<Duration> {
        self.machine
            .map(|(before, after)| after.busy.saturating_sub(before.busy))
    }

    /// The CPU time spent in interrupts and soft interrupts in the window,
    /// charged to no process: on loopback, mostly the receiving half of
    /// the server's and the generator's network traffic.
    pub fn interrupts(&self) -> Option<Duration> {
        self.machine
            .map(|(before, after)| after.interrupts.saturating_sub(before.interrupts))
    }

    /// The CPU time used in the window by everything but the generator,
    /// the server and interrupts: other processes sharing the cores.
    pub fn others_busy(&self) -> Option<Duration> {
        let ours = self.generator_cpu
            + self.server_cpu().unwrap_or_default()
            + self.interrupts().unwrap_or_default();
        self.machine_busy().map(|busy| busy.saturating_sub(ours))
    }
}

/// `part` as a percentage of one core over `whole`.
pub fn percent_of_core(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        return 0.0;
    }
    100.0 * part.as_secs_f64() / whole.as_secs_f64()
}

/// Microseconds of `cpu` per event, when there were events.
pub fn micros_per(cpu: Duration, events: u64) -> Option<f64> {
    (events > 0).then(|| cpu.as_secs_f64() * 1e6 / events as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_computed() {
        assert_eq!(
            percent_of_core(Duration::from_millis(500), Duration::from_secs(1)),
            50.0
        );
        assert_eq!(percent_of_core(Duration::from_secs(1), Duration::ZERO), 0.0);
        assert_eq!(micros_per(Duration::from_secs(2), 1_000_000), Some(2.0));
        assert_eq!(micros_per(Duration::from_secs(2), 0), None);
    }

    #[tokio::test]
    async fn a_window_on_this_process_measures_it() {
        let window = Window::open(Some(std::process::id().to_string().parse().unwrap()));
        let measured = window.close();
        let (before, after) = measured.server.unwrap();
        assert!(after.cpu >= before.cpu);
        assert!(measured.server_cpu().is_some());
    }

    #[test]
    fn several_server_processes_are_summed() {
        let me = std::process::id();
        let once = sample_server(Some(me.to_string().parse().unwrap()))
            .unwrap()
            .1;
        let twice = sample_server(Some(format!("{me},{me}").parse().unwrap()))
            .unwrap()
            .1;
        // The same process read twice: twice its memory (which moves little
        // between two reads) and at least twice its CPU time of before.
        assert!(
            twice.rss_bytes >= 2 * once.rss_bytes * 9 / 10,
            "{twice:?} {once:?}"
        );
        assert!(twice.cpu >= 2 * once.cpu);
    }
}
