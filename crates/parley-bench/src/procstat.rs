//! CPU time and resident memory of the server (from `/proc/<pid>`), of
//! this process (from `getrusage`), and of the whole machine (`/proc/stat`,
//! `/proc/loadavg`): on a machine shared with other work, what the others
//! used during a run says how far its figures can be trusted.

use std::io;
use std::time::Duration;

/// CPU time and memory of a process (or of several, summed) at one
/// moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// User plus system CPU time used so far.
    pub cpu: Duration,
    /// The same, split into user and system time.
    pub split: CpuSplit,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

impl ProcSample {
    /// Adds another process's sample to this one.
    pub fn add(&mut self, other: &ProcSample) {
        self.split.user += other.split.user;
        self.split.system += other.split.system;
        self.cpu = self.split.total();
        self.rss_bytes += other.rss_bytes;
    }
}

/// Reads the CPU time and resident memory of process `pid`.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let (user, system) = parse_stat_ticks(&stat)
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat: {stat:?}")))?;
    let rss_kib = parse_status_rss_kib(&status)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))?;
    let per_second = clock_ticks_per_second();
    let split = CpuSplit {
        user: ticks_to_duration(user, per_second),
        system: ticks_to_duration(system, per_second),
    };
    Ok(ProcSample {
        cpu: split.total(),
        split,
        rss_bytes: rss_kib * 1024,
    })
}

/// The whole machine's CPU time and load at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineSample {
    /// CPU time every core spent busy so far (all processes and the
    /// kernel's interrupts), summed over cores.
    pub busy: Duration,
    /// The part of `busy` spent in interrupts and soft interrupts, which
    /// the kernel charges to no process: on loopback, much of the network
    /// path of the server's and the generator's writes.
    pub interrupts: Duration,
    /// The 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
}

/// Reads the machine's busy CPU time and load averages.
pub fn machine() -> io::Result<MachineSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let loadavg = std::fs::read_to_string("/proc/loadavg")?;
    let (busy, interrupts) = parse_machine_busy_ticks(&stat)
        .ok_or_else(|| io::Error::other("no cpu line in /proc/stat"))?;
    let load = parse_loadavg(&loadavg)
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/loadavg: {loadavg:?}")))?;
    let per_second = clock_ticks_per_second();
    Ok(MachineSample {
        busy: ticks_to_duration(busy, per_second),
        interrupts: ticks_to_duration(interrupts, per_second),
        load,
    })
}

/// CPU time of this process, split into user and system (kernel) time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuSplit {
    /// Time spent running the process's own code.
    pub user: Duration,
    /// Time the kernel spent on the process's behalf (system calls,
    /// including the loopback network path).
    pub system: Duration,
}

impl CpuSplit {
    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The time used since `earlier`.
    pub fn since(&self, earlier: &CpuSplit) -> CpuSplit {
        CpuSplit {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The CPU time (user plus system) this process has used so far.
pub fn self_cpu() -> Duration {
    self_cpu_split().total()
}

/// The CPU time this process has used so far, split into user and system.
pub fn self_cpu_split() -> CpuSplit {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory of the right size, and
    // RUSAGE_SELF is a valid target; getrusage only writes into it.
    let result = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if result != 0 {
        return CpuSplit::default();
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and it was
    // zeroed before, so every field is initialized either way).
    let usage = unsafe { usage.assume_init() };
    CpuSplit {
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
    }
}

fn timeval(value: libc::timeval) -> Duration {
    let secs = u64::try_from(value.tv_sec).unwrap_or(0);
    let micros = u32::try_from(value.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

/// `(utime, stime)` in clock ticks, from the text of `/proc/<pid>/stat`.
/// The command name (field 2) may hold spaces and parentheses, so fields
/// are counted from the last `)`.
fn parse_stat_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // After the name: state (field 3), ..., utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Busy clock ticks of all cores, from the `cpu` line of `/proc/stat`:
/// everything but idle and iowait (guest time is already in user time),
/// and the part of it spent in interrupts and soft interrupts.
fn parse_machine_busy_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = fields[..] else {
        return None;
    };
    Some((user + nice + system + irq + softirq + steal, irq + softirq))
}

/// The three load averages of `/proc/loadavg`.
fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// `VmRSS` in KiB, from the text of `/proc/<pid>/status`.
fn parse_status_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_are_read_after_the_command_name() {
        let stat = "4242 (par ley) (x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    150 25 0 0 20 0 9 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some((150, 25)));
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn rss_is_read_from_status() {
        let status = "Name:\tparley\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_kib(status), Some(5120));
        assert_eq!(parse_status_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn the_machine_line_and_the_load_are_read() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(parse_machine_busy_ticks(stat), Some((161, 5)));
        assert_eq!(parse_machine_busy_ticks("intr 1 2\n"), None);
        assert_eq!(
            parse_loadavg("1.18 1.92 2.17 3/412 29067\n"),
            Some([1.18, 1.92, 2.17])
        );
        assert_eq!(parse_loadavg("1.0\n"), None);
        let sample = machine().unwrap();
        assert!(sample.busy > Duration::ZERO);
    }

    #[test]
    fn ticks_convert_exactly() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_bytes > 0);
        // Spend a little CPU so the clock has something to show.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i * i));
        }
        assert!(self_cpu() > Duration::ZERO);
    }
}
