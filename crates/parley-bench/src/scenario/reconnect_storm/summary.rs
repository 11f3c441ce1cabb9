//! The figures of a reconnect storm, from every client's record and each
//! storm's measured window.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::comeback::{Comeback, Record};
use crate::measure::Measured;
use crate::metrics::latency_histogram;
use crate::report::{Percentiles, ReconnectStats, StormStats};

/// The storm figures from every client's record and each storm's window.
pub fn summarize(records: &[Record], windows: &[Measured], native: bool) -> ReconnectStats {
    let mut reconnect = latency_histogram();
    let mut resubscribe = latency_histogram();
    let mut recover = latency_histogram();
    let mut back = latency_histogram();
    let mut storms = Vec::with_capacity(windows.len());
    for (k, window) in windows.iter().enumerate() {
        let comebacks: Vec<&Comeback> = records
            .iter()
            .filter_map(|record| record.comebacks.get(k))
            .filter(|comeback| comeback.took_part)
            .collect();
        let all = |time: fn(&Comeback) -> Option<Duration>| {
            let times: Vec<Duration> = comebacks.iter().filter_map(|c| time(c)).collect();
            let every = !comebacks.is_empty() && times.len() == comebacks.len();
            (
                times.len(),
                every.then(|| times.iter().max().map_or(0.0, Duration::as_secs_f64)),
            )
        };
        let (reconnected, all_reconnected) = all(|c| c.reconnected);
        let (resubscribed, all_resubscribed) = all(|c| c.resubscribed);
        let (recovered, all_recovered) = all(|c| c.caught_up);
        let sum = |value: fn(&Comeback) -> u64| comebacks.iter().map(|c| value(c)).sum::<u64>();
        for comeback in &comebacks {
            record(&mut reconnect, comeback.reconnected);
            record(&mut resubscribe, comeback.resubscribed);
            record(&mut recover, comeback.caught_up);
            let done = comeback.caught_up.or(comeback.resubscribed);
            record(&mut back, done.map(|d| d.saturating_sub(comeback.waited)));
        }
        let only_native = |value| native.then_some(value);
        storms.push(StormStats {
            clients: comebacks.len(),
            reconnected,
            resubscribed,
            recovered: only_native(recovered),
            not_recovered: only_native(
                comebacks
                    .iter()
                    .filter(|c| c.recovered.is_some() && c.caught_up.is_none())
                    .count(),
            ),
            all_reconnected_seconds: all_reconnected,
            all_resubscribed_seconds: all_resubscribed,
            all_recovered_seconds: all_recovered.filter(|_| native),
            replayed: native.then(|| sum(|c| c.replayed)),
            unrecovered: native.then(|| sum(|c| c.unrecovered)),
            gaps: native.then(|| sum(|c| c.gaps)),
            connect_failures: sum(|c| c.connect_failures),
            gave_up: comebacks.iter().filter(|c| c.gave_up).count(),
            server_cpu_seconds: window.server_cpu().map(|cpu| cpu.as_secs_f64()),
            server_rss_bytes: window.server.map(|(_, after)| after.rss_bytes),
            generator_cpu_seconds: window.generator_cpu.as_secs_f64(),
            seconds: window.elapsed.as_secs_f64(),
        });
    }
    let gaps: u64 = records
        .iter()
        .map(|r| r.gaps_before + r.comebacks.iter().map(|c| c.gaps).sum::<u64>())
        .sum();
    let only_native = |value| native.then_some(value);
    ReconnectStats {
        reconnect_ms: Percentiles::from_micros(&reconnect),
        resubscribe_ms: Percentiles::from_micros(&resubscribe),
        recover_ms: native.then(|| Percentiles::from_micros(&recover)),
        back_after_wait_ms: Percentiles::from_micros(&back),
        replayed: native.then(|| storms.iter().filter_map(|s| s.replayed).sum()),
        not_recovered: native.then(|| storms.iter().filter_map(|s| s.not_recovered).sum()),
        gaps: only_native(gaps),
        duplicates: only_native(records.iter().map(|r| r.duplicates).sum()),
        new_epochs: only_native(records.iter().map(|r| r.new_epochs).sum()),
        connect_failures: storms.iter().map(|s| s.connect_failures).sum(),
        gave_up: storms.iter().map(|s| s.gave_up).sum(),
        unplanned_disconnects: records.iter().map(|r| r.unplanned).sum(),
        storms,
        ..ReconnectStats::default()
    }
}

/// Records `time` in microseconds, when there is one.
fn record(histogram: &mut Histogram<u64>, time: Option<Duration>) {
    if let Some(time) = time {
        let micros = u64::try_from(time.as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.max(1));
    }
}
