//! Where the writer runs.
//!
//! On PostgreSQL the writer is a task on the caller's runtime and takes its
//! connection from the pool: each of its statements is a network round
//! trip to the database server anyway.
//!
//! On SQLite each statement is a hand-off between the writer and the thread
//! sqlx runs the connection on: the writer sends the statement there and
//! sleeps until the answer comes back. When that thread sleeps on another
//! CPU, each hand-off wakes a CPU, and on a virtual machine, where an idle
//! virtual CPU halts, that costs tens of microseconds: more than the
//! statement itself, several times per batch, while the writer is the one
//! path every durable write takes. So the SQLite writer gets a thread of
//! its own, `parley-writer`, running a single-threaded runtime and pinned
//! to one CPU, and opens its own connection from there: the thread sqlx
//! starts for that connection inherits the pin, and each hand-off is a
//! switch between two threads on one CPU. The two never run at the same
//! time (the writer waits for each answer), so one CPU serves both; the
//! rest of the server's threads are not pinned and the kernel moves them
//! to the other CPUs. Writers of several stores in one process take the
//! CPUs the process may use in turn, from the last one (the first one
//! usually takes the most interrupts). With a single CPU allowed, or
//! where pinning is not supported, the writer runs unpinned, on its own
//! thread still.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::StoreError;
use crate::writer::{Connections, Request, Writer};

/// Starts the writer where its connections say: a task for a pooled
/// writer, a pinned thread for one with a connection of its own (see the
/// module's documentation).
pub(crate) fn start(writer: Writer, requests: mpsc::Receiver<Request>) -> Result<(), StoreError> {
    if let Connections::Pool(_) = writer.connections {
        tokio::spawn(writer.run(requests));
        return Ok(());
    }
    let failed = |error: std::io::Error| StoreError::Database(Arc::new(sqlx::Error::Io(error)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(failed)?;
    std::thread::Builder::new()
        .name("parley-writer".into())
        .spawn(move || {
            pin_to_a_cpu();
            runtime.block_on(writer.run(requests));
        })
        .map_err(failed)?;
    Ok(())
}

/// How many SQLite writers this process has pinned: the next one takes the
/// next CPU.
static PINNED: AtomicUsize = AtomicUsize::new(0);

/// Pins the calling thread to one of the CPUs it may run on, the last one
/// for the process's first writer, then each one before it in turn.
fn pin_to_a_cpu() {
    let Some(cpus) = core_affinity::get_core_ids().filter(|cpus| cpus.len() > 1) else {
        tracing::debug!("the store writer runs unpinned: one CPU, or no way to pin");
        return;
    };
    let turn = PINNED.fetch_add(1, Ordering::Relaxed) % cpus.len();
    let cpu = cpus[cpus.len() - 1 - turn];
    if core_affinity::set_for_current(cpu) {
        tracing::debug!(
            cpu = cpu.id,
            "the store writer and its SQLite thread run on one CPU"
        );
    } else {
        tracing::warn!(
            cpu = cpu.id,
            "the store writer could not be pinned to a CPU"
        );
    }
}
