//! Opening a run's connections: at most `concurrency` handshakes in flight,
//! each connection subscribed to its channels before it counts as open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::metrics::{Tally, latency_histogram};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::protocol::{Client, Conn};

/// The connections of a run and how opening them went.
#[derive(Debug)]
pub struct Opened {
    /// The open connections, in no particular order.
    pub conns: Vec<Conn>,
    /// Connections that could not be opened or subscribed.
    pub failed: usize,
    /// Time from TCP connect to the end of the protocol handshake (token
    /// verified), in microseconds.
    pub connect_latency: Histogram<u64>,
    /// How long opening took.
    pub elapsed: Duration,
}

/// What to open.
#[derive(Debug, Clone)]
pub struct Opening {
    /// How many connections.
    pub count: usize,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Give up opening more after this.
    pub deadline: Instant,
    /// The subscriptions, if any, with the channel names.
    pub subscriptions: Option<(Plan, Arc<[String]>)>,
}

/// Opens `opening.count` connections, printing progress on stderr.
pub async fn open_all(client: Arc<Client>, opening: Opening, tally: Arc<Tally>) -> Opened {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let progress = {
        let (opened, failed, count) = (opened.clone(), failed.clone(), opening.count);
        Progress::start("open", move || {
            format!(
                "{}/{count} connections open, {} failed",
                opened.load(Relaxed),
                failed.load(Relaxed)
            )
        })
    };
    let workers = opening.concurrency.clamp(1, opening.count.max(1));
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (client, opening, tally) = (client.clone(), opening.clone(), tally.clone());
        let (next, opened, failed) = (next.clone(), opened.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::new();
            let mut latency = latency_histogram();
            loop {
                let index = next.fetch_add(1, Relaxed);
                if index >= opening.count || Instant::now() >= opening.deadline {
                    return (conns, latency);
                }
                match open_one(&client, &opening, index, &mut latency).await {
                    Ok(conn) => {
                        conns.push(conn);
                        opened.fetch_add(1, Relaxed);
                    }
                    Err(error) => {
                        failed.fetch_add(1, Relaxed);
                        tally.note_error(&format!("open: {error}"));
                    }
                }
            }
        }));
    }
    let mut conns = Vec::with_capacity(opening.count);
    let mut connect_latency = latency_histogram();
    for task in tasks {
        if let Ok((mut some, latency)) = task.await {
            conns.append(&mut some);
            let _ = connect_latency.add(&latency);
        }
    }
    progress.stop().await;
    let elapsed = started.elapsed();
    eprintln!(
        "opened {} connections in {:.2}s ({} failed)",
        conns.len(),
        elapsed.as_secs_f64(),
        failed.load(Relaxed)
    );
    conns.sort_by_key(|conn| conn.index);
    Opened {
        conns,
        failed: failed.load(Relaxed),
        connect_latency,
        elapsed,
    }
}

async fn open_one(
    client: &Client,
    opening: &Opening,
    index: usize,
    latency: &mut Histogram<u64>,
) -> Result<Conn, String> {
    let started = Instant::now();
    let mut conn = client.open(index).await?;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    latency.saturating_record(micros.max(1));
    if let Some((plan, names)) = &opening.subscriptions {
        let channels: Vec<String> = plan
            .channels_of(index)
            .into_iter()
            .map(|channel| names[channel].clone())
            .collect();
        client.subscribe(&mut conn, &channels).await?;
    }
    Ok(conn)
}
