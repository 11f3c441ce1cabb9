//! Opening a run's connections (or one worker's share of them): at most
//! `concurrency` handshakes in flight, each connection subscribed to its
//! channels before it counts as open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::fleet::Share;
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

/// How many connections opened and failed so far, read while opening.
#[derive(Debug, Default)]
pub struct OpenCounts {
    /// Opened (and subscribed).
    pub opened: AtomicUsize,
    /// Failed to open or subscribe.
    pub failed: AtomicUsize,
}

/// Opens `opening.count` connections, printing progress on stderr.
pub async fn open_all(client: Arc<Client>, opening: Opening, tally: Arc<Tally>) -> Opened {
    let counts = Arc::new(OpenCounts::default());
    let progress = {
        let (counts, count) = (counts.clone(), opening.count);
        Progress::start("open", move || {
            format!(
                "{}/{count} connections open, {} failed",
                counts.opened.load(Relaxed),
                counts.failed.load(Relaxed)
            )
        })
    };
    let opened = open_share(client, opening, Share::WHOLE, counts, tally).await;
    progress.stop().await;
    eprintln!(
        "opened {} connections in {:.2}s ({} failed)",
        opened.conns.len(),
        opened.elapsed.as_secs_f64(),
        opened.failed
    );
    opened
}

/// Opens `share` of `opening.count` connections (see [`Share`]), counting
/// in `counts` as it goes.
pub async fn open_share(
    client: Arc<Client>,
    opening: Opening,
    share: Share,
    counts: Arc<OpenCounts>,
    tally: Arc<Tally>,
) -> Opened {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let share_len = share.len(opening.count);
    let workers = opening.concurrency.clamp(1, share_len.max(1));
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (client, opening, tally) = (client.clone(), opening.clone(), tally.clone());
        let (next, counts) = (next.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::new();
            let mut latency = latency_histogram();
            loop {
                let k = next.fetch_add(1, Relaxed);
                if k >= share_len || Instant::now() >= opening.deadline {
                    return (conns, latency);
                }
                match open_one(&client, &opening, share.nth(k), &mut latency).await {
                    Ok(conn) => {
                        conns.push(conn);
                        counts.opened.fetch_add(1, Relaxed);
                    }
                    Err(error) => {
                        counts.failed.fetch_add(1, Relaxed);
                        tally.note_error(&format!("open: {error}"));
                    }
                }
            }
        }));
    }
    let mut conns = Vec::with_capacity(share_len);
    let mut connect_latency = latency_histogram();
    for task in tasks {
        if let Ok((mut some, latency)) = task.await {
            conns.append(&mut some);
            let _ = connect_latency.add(&latency);
        }
    }
    conns.sort_by_key(|conn| conn.index);
    Opened {
        conns,
        failed: counts.failed.load(Relaxed),
        connect_latency,
        elapsed: started.elapsed(),
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
