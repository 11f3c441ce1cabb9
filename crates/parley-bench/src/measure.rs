//! A measured window of a run: wall time, this process's CPU time, the
//! server's CPU time and memory, and the whole machine's busy time and load
//! between its start and its end.

use std::time::Duration;

use tokio::time::Instant;

use crate::procstat::{self, CpuSplit, MachineSample, ProcSample};

/// The start of a measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    started: Instant,
    self_cpu: CpuSplit,
    server: Option<(u32, ProcSample)>,
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

/// Samples the server `pid`, warning on stderr when it cannot be read.
pub fn sample_server(pid: Option<u32>) -> Option<(u32, ProcSample)> {
    let pid = pid?;
    match procstat::sample(pid) {
        Ok(sample) => Some((pid, sample)),
        Err(error) => {
            eprintln!("warning: cannot read /proc/{pid}: {error}");
            None
        }
    }
}

impl Window {
    /// Opens a window now, sampling the server `pid` if given.
    pub fn open(server_pid: Option<u32>) -> Self {
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
            .and_then(|(pid, before)| sample_server(Some(pid)).map(|(_, after)| (before, after)));
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
        let window = Window::open(Some(std::process::id()));
        let measured = window.close();
        let (before, after) = measured.server.unwrap();
        assert!(after.cpu >= before.cpu);
        assert!(measured.server_cpu().is_some());
    }
}
