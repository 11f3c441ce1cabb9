//! The log's writer. Formatted lines go through a bounded queue to one
//! thread that writes them to standard error, so that a log nobody reads
//! (a full pipe) or one that cannot be written (closed, or non-blocking and
//! full) costs the server lost lines, counted, and never a blocked or
//! panicking task.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The most lines waiting for the writing thread. Past it new lines are
/// dropped: a few hundred kilobytes at most, and a slow reader of the log
/// never slows the server down.
const QUEUE_LINES: usize = 4096;

/// Lines dropped since the process started: the queue was full, or
/// standard error failed.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped since the process started
/// (`parley_log_lines_dropped_total`).
pub fn lines_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// What the writing thread is given.
enum Entry {
    /// One formatted event.
    Line(Vec<u8>),
    /// Answer on this channel once every line before is written.
    Flush(SyncSender<()>),
}

/// Hands formatted log lines to the writing thread without waiting.
#[derive(Clone)]
pub struct LogWriter {
    queue: SyncSender<Entry>,
}

impl LogWriter {
    /// Starts the thread that writes to standard error.
    pub fn start() -> io::Result<Self> {
        let (queue, entries) = mpsc::sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("parley-log".into())
            .spawn(move || write_lines(entries))?;
        Ok(Self { queue })
    }

    /// Waits until the lines queued so far are written, at most `within`
    /// (standard error may be blocked for good).
    pub fn flush(&self, within: Duration) {
        let (done, written) = mpsc::sync_channel(1);
        if self.queue.try_send(Entry::Flush(done)).is_ok() {
            let _ = written.recv_timeout(within);
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { queue: &self.queue }
    }
}

/// The writer of one event: the formatter writes the whole event at once.
pub struct LineWriter<'a> {
    queue: &'a SyncSender<Entry>,
}

impl Write for LineWriter<'_> {
    /// Queues `buf` and reports it written even when it is dropped: an
    /// error here would only make the formatter report it on standard
    /// error, the very thing that failed.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.queue.try_send(Entry::Line(buf.to_vec())).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writing thread: writes each line to standard error, counting the
/// lines it could not write. It may block on a full pipe; the queue in
/// front of it then fills and new lines are dropped.
fn write_lines(entries: Receiver<Entry>) {
    let stderr = io::stderr();
    for entry in entries {
        match entry {
            Entry::Line(line) => {
                if stderr.lock().write_all(&line).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
            Entry::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
