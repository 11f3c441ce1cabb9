//! The figures of a reconnect storm, and their rows in the table.

use serde::Serialize;

use super::Percentiles;

/// A reconnect storm: clients following channels all drop at once and
/// come back. Recovery fields are `None` for the Pusher protocol, which
/// has no stream positions and no recovery.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconnectStats {
    /// Channels followed.
    pub channels: usize,
    /// Clients subscribed before the first storm.
    pub clients: usize,
    /// Each storm.
    pub storms: Vec<StormStats>,
    /// Per client and storm: from the drop until connected again
    /// (protocol handshake done), ms. Includes the client's wait.
    pub reconnect_ms: Percentiles,
    /// Per client and storm: from the drop until subscribed again, ms.
    pub resubscribe_ms: Percentiles,
    /// Per client and storm: from the drop until every missed publication
    /// was received (native, recovered clients only), ms.
    pub recover_ms: Option<Percentiles>,
    /// Per client and storm: from the end of the client's wait until it
    /// was back (recovered, or for Pusher subscribed), ms: the server's
    /// part, without the spread.
    pub back_after_wait_ms: Percentiles,
    /// Publications replayed, all storms.
    pub replayed: Option<u64>,
    /// Comebacks answered `recovered: false` (or whose replay had a gap).
    pub not_recovered: Option<usize>,
    /// Offsets missing over the whole run, before, during and between
    /// storms: loss.
    pub gaps: Option<u64>,
    /// Publications received twice.
    pub duplicates: Option<u64>,
    /// Epoch changes seen within a subscription.
    pub new_epochs: Option<u64>,
    /// Failed reconnect attempts, all storms.
    pub connect_failures: u64,
    /// Comebacks given up at the storm's time limit.
    pub gave_up: usize,
    /// Connections the server closed, or that broke, outside the drops.
    pub unplanned_disconnects: u64,
}

/// One storm.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StormStats {
    /// Clients connected when it began.
    pub clients: usize,
    /// Of which connected again.
    pub reconnected: usize,
    /// Subscribed again.
    pub resubscribed: usize,
    /// Received everything they missed, without a gap (native).
    pub recovered: Option<usize>,
    /// Answered `recovered: false`, or whose replay had a gap (native).
    pub not_recovered: Option<usize>,
    /// Seconds from the drop until the last reconnect, when all
    /// reconnected.
    pub all_reconnected_seconds: Option<f64>,
    /// Seconds until the last re-subscription, when all re-subscribed.
    pub all_resubscribed_seconds: Option<f64>,
    /// Seconds until the last recovery, when all recovered (native).
    pub all_recovered_seconds: Option<f64>,
    /// Publications replayed (native).
    pub replayed: Option<u64>,
    /// Publications missed and not replayed, for the clients answered
    /// `recovered: false` (native): what they must reload.
    pub unrecovered: Option<u64>,
    /// Offsets missing from the drop until the next storm or the end
    /// (native).
    pub gaps: Option<u64>,
    /// Failed reconnect attempts.
    pub connect_failures: u64,
    /// Clients that gave up at the time limit.
    pub gave_up: usize,
    /// Server CPU from the drop until every client was back, seconds.
    pub server_cpu_seconds: Option<f64>,
    /// Server resident memory when every client was back, bytes.
    pub server_rss_bytes: Option<u64>,
    /// Generator CPU over the same time, seconds.
    pub generator_cpu_seconds: f64,
    /// Seconds from the drop until every client was back (or the limit).
    pub seconds: f64,
}

/// "all in 1.234 s", or "not all".
fn all_in(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "not all".to_owned(), |s| format!("all in {s:.3} s"))
}

fn count<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}

impl ReconnectStats {
    /// The table rows of the storm.
    pub fn rows(&self, mut row: impl FnMut(&str, String)) {
        let native = self.recover_ms.is_some();
        for (k, storm) in self.storms.iter().enumerate() {
            let mut line = format!(
                "{}/{} reconnected ({}), {} re-subscribed ({})",
                storm.reconnected,
                storm.clients,
                all_in(storm.all_reconnected_seconds),
                storm.resubscribed,
                all_in(storm.all_resubscribed_seconds),
            );
            if native {
                line.push_str(&format!(
                    ", {} recovered ({}), {} not",
                    count(storm.recovered),
                    all_in(storm.all_recovered_seconds),
                    count(storm.not_recovered),
                ));
            }
            row(&format!("storm {}", k + 1), line);
            let mut line = format!(
                "{} connect failures, {} gave up",
                storm.connect_failures, storm.gave_up
            );
            if native {
                line.push_str(&format!(
                    ", {} replayed, {} unrecovered, {} gaps",
                    count(storm.replayed),
                    count(storm.unrecovered),
                    count(storm.gaps)
                ));
            }
            if let Some(cpu) = storm.server_cpu_seconds {
                line.push_str(&format!(", server {cpu:.2} s CPU"));
            }
            if let Some(rss) = storm.server_rss_bytes {
                line.push_str(&format!(" rss {:.1} MiB", rss as f64 / 1048576.0));
            }
            line.push_str(&format!(
                ", generator {:.2} s CPU over {:.2} s",
                storm.generator_cpu_seconds, storm.seconds
            ));
            row("", line);
        }
        let percentiles = |p: &Percentiles| {
            if p.count == 0 {
                return "none".to_owned();
            }
            format!(
                "p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                p.p50, p.p95, p.p99, p.max
            )
        };
        row("reconnect time", percentiles(&self.reconnect_ms));
        row("re-subscribe time", percentiles(&self.resubscribe_ms));
        match &self.recover_ms {
            Some(recover) => row("recovery time", percentiles(recover)),
            None => row(
                "recovery",
                "n/a (Pusher has no recovery: what was published while a client was away is lost)"
                    .to_owned(),
            ),
        }
        row("back after wait", percentiles(&self.back_after_wait_ms));
        if native {
            row(
                "recovery totals",
                format!(
                    "{} replayed, {} not recovered, {} gaps, {} duplicates, {} epoch changes",
                    count(self.replayed),
                    count(self.not_recovered),
                    count(self.gaps),
                    count(self.duplicates),
                    count(self.new_epochs),
                ),
            );
        }
        row(
            "comeback failures",
            format!(
                "{} connect failures, {} gave up, {} unplanned disconnects",
                self.connect_failures, self.gave_up, self.unplanned_disconnects
            ),
        );
    }
}
