//! Where the writer runs (`writer_thread.rs`): on SQLite a thread of its
//! own, `parley-writer`, pinned to one CPU together with the thread sqlx
//! runs its connection on; on PostgreSQL a task, no thread. A binary of its
//! own: it reads this process's threads, and the other store tests would
//! start writers of their own meanwhile.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::fs;

use common::{TestDb, channel, send};

/// A thread of this process: its name and the CPUs it may run on.
#[derive(Debug)]
struct Thread {
    name: String,
    cpus: BTreeSet<usize>,
}

/// Every thread of this process.
fn threads() -> Vec<Thread> {
    let mut threads = Vec::new();
    for task in fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("a task").path();
        let (Ok(name), Ok(status)) = (
            fs::read_to_string(path.join("comm")),
            fs::read_to_string(path.join("status")),
        ) else {
            continue; // It ended meanwhile.
        };
        threads.push(Thread {
            name: name.trim().to_owned(),
            cpus: allowed_cpus(&status),
        });
    }
    threads
}

/// The CPUs a thread may run on, from its `status` file.
fn allowed_cpus(status: &str) -> BTreeSet<usize> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in the status");
    cpu_list(list.trim())
}

/// `0-2,5` → {0, 1, 2, 5}.
fn cpu_list(list: &str) -> BTreeSet<usize> {
    let mut cpus = BTreeSet::new();
    for part in list.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let (first, last): (usize, usize) = (first.parse().unwrap(), last.parse().unwrap());
        cpus.extend(first..=last);
    }
    cpus
}

fn named<'a>(threads: &'a [Thread], prefix: &str) -> Vec<&'a Thread> {
    threads
        .iter()
        .filter(|thread| thread.name.starts_with(prefix))
        .collect()
}

/// Both tests in one, in order: the PostgreSQL store must have started no
/// writer thread before the SQLite one starts its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_writer_and_its_connection_share_one_cpu_and_postgres_starts_no_thread() {
    let allowed = allowed_cpus(&fs::read_to_string("/proc/thread-self/status").unwrap());

    let postgres = TestDb::postgres().await;
    let store = postgres.open().await;
    send(&store, "chat:lobby", "ann", "on postgres").await;
    assert!(
        named(&threads(), "parley-writer").is_empty(),
        "the PostgreSQL writer is a task: {:?}",
        threads()
    );
    store.close().await;

    let sqlite = TestDb::sqlite().await;
    let store = sqlite.open().await;
    send(&store, "chat:lobby", "ann", "on sqlite").await;
    let now = threads();
    let writers = named(&now, "parley-writer");
    assert_eq!(writers.len(), 1, "one writer thread: {now:?}");
    let writer = writers[0];
    if allowed.len() > 1 {
        assert_eq!(writer.cpus.len(), 1, "the writer is pinned: {now:?}");
        assert!(writer.cpus.is_subset(&allowed));
        // sqlx names each connection's thread `sqlx-sqlite-worker-N`; the
        // readers' are not pinned, the writer's is, to the writer's CPU.
        let sqlite_threads = named(&now, "sqlx-sqlite");
        let pinned: Vec<_> = sqlite_threads
            .iter()
            .filter(|thread| thread.cpus.len() == 1)
            .collect();
        assert_eq!(
            pinned.len(),
            1,
            "one SQLite connection thread is pinned, the writer's: {now:?}"
        );
        assert_eq!(pinned[0].cpus, writer.cpus, "on the writer's CPU");
    } else {
        assert_eq!(writer.cpus, allowed, "one CPU: nothing to pin to");
    }

    // The writer still commits and answers from there, and readers see
    // what it committed.
    let second = send(&store, "chat:lobby", "ann", "again").await;
    assert_eq!(second.message.offset, 2);
    let position = store
        .stream(common::APP, &channel("chat:lobby"))
        .await
        .expect("the stream's position");
    assert_eq!(position.offset, 2);

    // Closing stops the thread, after it closed its connection.
    store.close().await;
    for _ in 0..100 {
        if named(&threads(), "parley-writer").is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the writer thread outlived the store: {:?}", threads());
}
