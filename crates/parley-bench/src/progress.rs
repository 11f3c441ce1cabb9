//! The progress line printed on stderr once a second while a phase runs.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A running progress printer; stops when dropped or stopped.
#[derive(Debug)]
pub struct Progress {
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Prints `[label  Ns] <line()>` on stderr every second.
    pub fn start(label: &'static str, mut line: impl FnMut() -> String + Send + 'static) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => return,
                    _ = ticks.tick() => {
                        let elapsed = start.elapsed().as_secs();
                        eprintln!("[{label} {elapsed:>3}s] {}", line());
                    }
                }
            }
        });
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Stops printing and waits for the printer to finish.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
