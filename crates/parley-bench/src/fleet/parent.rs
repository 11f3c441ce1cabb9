//! The parent's side of a run over several processes: starting the
//! workers, sending them commands, adding their counters to the parent's
//! tally as they report, and failing the run with a worker's stderr when
//! one dies or goes quiet. Every wait is bounded.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command as Process};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::wire::{Command, Counts, Cpu, Line, OpenedShare};
use super::{PROGRAM, Share};
use crate::metrics::{Tally, latency_histogram};
use crate::procstat::CpuSplit;

/// How long a worker may take to start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a worker may take to answer `stop`.
const RESULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Beyond its opening deadline, how long a worker may take to report that
/// opening is over (handshakes still in flight finish first).
const OPENED_MARGIN: Duration = Duration::from_secs(10);
/// How long a worker may take to close its connections and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a command may take to reach a worker.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The lines of a worker's stderr kept to show when it fails.
const STDERR_LINES: usize = 20;
/// The longest stderr line kept.
const STDERR_LINE_BYTES: usize = 400;

/// The worker processes of a run.
#[derive(Debug)]
pub struct Fleet {
    workers: Vec<Worker>,
    /// What the workers' output readers pass on: `(worker, event)`.
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    /// Connections each worker has opened and failed so far.
    opening: Arc<[[AtomicUsize; 2]]>,
}

#[derive(Debug)]
struct Worker {
    share: Share,
    child: Child,
    /// Closed to tell the worker to close its connections and exit.
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: JoinHandle<()>,
}

/// A worker's report, less the counters its reader already added.
#[derive(Debug)]
enum Event {
    Ready,
    Opened(OpenedShare),
    Result(Cpu),
    /// Its output ended or made no sense: it is of no more use.
    Ended(String),
}

impl Fleet {
    /// Starts `processes` workers of this program, their counters adding
    /// to `tally`, and waits until each is ready.
    pub async fn start(processes: usize, tally: Arc<Tally>) -> Result<Self, String> {
        let program = PROGRAM
            .get()
            .ok_or("--processes starts this program again: run it as parley-bench")?;
        let (events_in, events) = mpsc::unbounded_channel();
        let opening: Arc<[[AtomicUsize; 2]]> = (0..processes).map(|_| Default::default()).collect();
        let mut workers = Vec::with_capacity(processes);
        for index in 0..processes {
            let share = Share {
                index,
                of: processes,
            };
            let mut child = Process::new(&program.exe)
                .args(&program.args)
                .arg("--worker")
                .arg(share.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|error| {
                    format!(
                        "cannot start worker {share} ({}): {error}",
                        program.exe.display()
                    )
                })?;
            let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
                return Err(format!("worker {share} has no output pipes"));
            };
            // The reader ends when the worker's stdout closes: when it
            // exits, or is killed as the fleet is dropped.
            tokio::spawn(read_lines(
                stdout,
                index,
                tally.clone(),
                opening.clone(),
                events_in.clone(),
            ));
            let kept = Arc::new(Mutex::new(VecDeque::new()));
            workers.push(Worker {
                share,
                stdin: child.stdin.take(),
                child,
                stderr_reader: tokio::spawn(keep_tail(stderr, kept.clone())),
                stderr: kept,
            });
        }
        let mut fleet = Self {
            workers,
            events,
            opening,
        };
        fleet
            .gather("that it started", READY_TIMEOUT, |event| match event {
                Event::Ready => Some(()),
                _ => None,
            })
            .await?;
        Ok(fleet)
    }

    /// Reads the connections opened and failed so far, all workers
    /// together.
    pub fn opening_counter(&self) -> impl Fn() -> (usize, usize) + Send + 'static {
        let opening = self.opening.clone();
        move || {
            opening.iter().fold((0, 0), |(opened, failed), counts| {
                (
                    opened + counts[0].load(Relaxed),
                    failed + counts[1].load(Relaxed),
                )
            })
        }
    }

    /// Sends `open` to every worker and waits until each has opened its
    /// share (bounded by `within` and a margin).
    pub async fn open(
        &mut self,
        command: Command,
        within: Duration,
    ) -> Result<Vec<OpenedShare>, String> {
        self.send_all(&command).await?;
        self.gather(
            "that it opened its connections",
            within + OPENED_MARGIN,
            |event| match event {
                Event::Opened(opened) => Some(opened),
                _ => None,
            },
        )
        .await
    }

    /// Opens the measured window in every worker.
    pub async fn start_window(&mut self) -> Result<(), String> {
        self.send_all(&Command::Start).await
    }

    /// Closes the measured window in every worker, waits for their final
    /// counters (added to the tally before this returns), and returns the
    /// CPU time they used in the window.
    pub async fn close_window(&mut self) -> Result<CpuSplit, String> {
        self.send_all(&Command::Stop).await?;
        let cpus = self
            .gather("its final counters", RESULT_TIMEOUT, |event| match event {
                Event::Result(cpu) => Some(cpu),
                _ => None,
            })
            .await?;
        Ok(sum_cpu(cpus))
    }

    /// Waits until a worker ends before its time, and returns the error
    /// that fails the run; reports that come meanwhile are counted and
    /// dropped. Run it beside a phase in which the workers only read.
    pub async fn failed(&mut self) -> String {
        loop {
            match self.events.recv().await {
                Some((index, Event::Ended(why))) => return self.failure(index, &why).await,
                Some(_) => {}
                None => return "every worker's output ended".into(),
            }
        }
    }

    /// Tells every worker to close its connections, and waits (bounded)
    /// until each exited, successfully.
    pub async fn finish(mut self) -> Result<(), String> {
        for worker in &mut self.workers {
            worker.stdin = None;
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        for index in 0..self.workers.len() {
            let worker = &mut self.workers[index];
            match tokio::time::timeout_at(deadline, worker.child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => return Err(self.failure(index, &exit(status)).await),
                Ok(Err(error)) => return Err(self.failure(index, &error.to_string()).await),
                Err(_) => {
                    return Err(self
                        .failure(index, &format!("did not exit within {EXIT_TIMEOUT:?}"))
                        .await);
                }
            }
        }
        Ok(())
    }

    /// Sends `command` to every worker.
    async fn send_all(&mut self, command: &Command) -> Result<(), String> {
        let mut line = serde_json::to_string(command).map_err(|error| error.to_string())?;
        line.push('\n');
        for index in 0..self.workers.len() {
            let sent = match self.workers[index].stdin.as_mut() {
                Some(stdin) => {
                    match tokio::time::timeout(SEND_TIMEOUT, stdin.write_all(line.as_bytes())).await
                    {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(error)) => Err(format!("cannot take commands: {error}")),
                        Err(_) => Err(format!("took no command for {SEND_TIMEOUT:?}")),
                    }
                }
                None => Err("was told to exit".to_owned()),
            };
            if let Err(why) = sent {
                return Err(self.failure(index, &why).await);
            }
        }
        Ok(())
    }

    /// Waits until every worker sent the event `pick` takes, failing when
    /// one ends first or `limit` passes.
    async fn gather<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut pick: impl FnMut(Event) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        let deadline = Instant::now() + limit;
        let mut got: Vec<Option<T>> = self.workers.iter().map(|_| None).collect();
        while let Some(waiting) = got.iter().position(Option::is_none) {
            let (index, event) = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(received)) => received,
                Ok(None) => return Err("every worker's output ended".into()),
                Err(_) => {
                    let why = format!("did not report {what} within {limit:?}");
                    return Err(self.failure(waiting, &why).await);
                }
            };
            match event {
                Event::Ended(why) => return Err(self.failure(index, &why).await),
                event => {
                    if let Some(value) = pick(event) {
                        got[index] = Some(value);
                    }
                }
            }
        }
        Ok(got.into_iter().flatten().collect())
    }

    /// The error for worker `index`, which `why`: with its exit status
    /// and the end of its stderr. Stops every worker.
    async fn failure(&mut self, index: usize, why: &str) -> String {
        let worker = &mut self.workers[index];
        worker.stdin = None;
        let status = match tokio::time::timeout(Duration::from_secs(2), worker.child.wait()).await {
            Ok(Ok(status)) => exit(status),
            _ => {
                let _ = worker.child.start_kill();
                "killed".to_owned()
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut worker.stderr_reader).await;
        let tail: Vec<String> = worker
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|line| format!("\n    {line}"))
            .collect();
        let share = worker.share;
        for other in &mut self.workers {
            let _ = other.child.start_kill();
        }
        let stderr = if tail.is_empty() {
            " (its stderr is empty)".to_owned()
        } else {
            format!("; its stderr ends:{}", tail.concat())
        };
        format!("worker {share} {why} ({status}){stderr}")
    }
}

/// Reads a worker's stdout: adds its counters to `tally`, its opening
/// progress to `opening`, and passes the rest on as events.
async fn read_lines(
    stdout: impl AsyncRead + Unpin,
    index: usize,
    tally: Arc<Tally>,
    opening: Arc<[[AtomicUsize; 2]]>,
    events: mpsc::UnboundedSender<(usize, Event)>,
) {
    let mut lines = BufReader::new(stdout).lines();
    let mut last = Counts::default();
    let mut last_latency = latency_histogram();
    let ended = loop {
        let text = match lines.next_line().await {
            Ok(Some(text)) => text,
            Ok(None) => break "ended its output".to_owned(),
            Err(error) => break format!("cannot be read: {error}"),
        };
        let line = match serde_json::from_str::<Line>(&text) {
            Ok(line) => line,
            Err(error) => {
                break format!("wrote a line that is not a report ({error}): {text:.200}");
            }
        };
        let (counts, event) = match line {
            Line::Ready => (None, Some(Event::Ready)),
            Line::Tick { counts } => (Some(counts), None),
            Line::Opened { counts, opened } => (Some(counts), Some(Event::Opened(opened))),
            Line::Result { counts, cpu } => (Some(counts), Some(Event::Result(cpu))),
        };
        if let Some(counts) = counts {
            match counts.absorb_into(&tally, &last, &last_latency) {
                Ok(Some(latency)) => last_latency = latency,
                Ok(None) => {}
                Err(error) => break error,
            }
            opening[index][0].store(counts.opened, Relaxed);
            opening[index][1].store(counts.open_failed, Relaxed);
            last = counts;
        }
        if let Some(event) = event
            && events.send((index, event)).is_err()
        {
            return;
        }
    };
    let _ = events.send((index, Event::Ended(ended)));
}

/// Keeps the last lines of a worker's stderr in `kept`.
async fn keep_tail(stderr: impl AsyncRead + Unpin, kept: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(mut line)) = lines.next_line().await {
        if line.len() > STDERR_LINE_BYTES {
            let mut end = STDERR_LINE_BYTES;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
            line.push('…');
        }
        let mut kept = kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() == STDERR_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

fn exit(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

fn sum_cpu(cpus: impl IntoIterator<Item = Cpu>) -> CpuSplit {
    cpus.into_iter().fold(CpuSplit::default(), |sum, cpu| {
        let cpu = CpuSplit::from(cpu);
        CpuSplit {
            user: sum.user + cpu.user,
            system: sum.system + cpu.system,
        }
    })
}
