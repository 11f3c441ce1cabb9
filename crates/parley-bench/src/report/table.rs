//! The human-readable table of a report.

use std::fmt::Write as _;

use super::Report;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn optional(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} {unit}"))
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut row = |name: &str, value: String| rows.push((name.to_owned(), value));
        row("scenario", format!("{} ({})", self.scenario, self.protocol));
        row("server", self.url.clone());
        for (name, value) in &self.settings {
            row(&format!("  {name}"), value.clone());
        }
        // A soak's connections come and go: its cycles are its own rows.
        if self.soak.is_none() {
            let c = &self.connections;
            row(
                "connections",
                format!("{} open of {} ({} failed)", c.open, c.requested, c.failed),
            );
        }
        if let Some(connect) = &self.connect {
            row(
                "connect rate",
                format!("{:.0} /s ({:.2} s)", connect.per_second, connect.seconds),
            );
            row(
                "connect time",
                format!(
                    "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    connect.time_ms.p50, connect.time_ms.p99, connect.time_ms.max
                ),
            );
            if connect.server_cpu_us_per_connection.is_some()
                || connect.generator_cpu_us_per_connection.is_some()
            {
                row(
                    "cpu per connection",
                    format!(
                        "server {}, generator {}",
                        optional(connect.server_cpu_us_per_connection, "µs"),
                        optional(connect.generator_cpu_us_per_connection, "µs")
                    ),
                );
            }
        }
        if let Some(p) = &self.publications {
            row(
                "publications",
                format!(
                    "{} sent, {} accepted, {} failed via {} ({:.0} /s, target {:.0} /s)",
                    p.sent, p.accepted, p.failed, p.via, p.per_second, p.target_rate
                ),
            );
        }
        if let Some(d) = &self.deliveries {
            row("deliveries", format!("{:.0} /s", d.per_second));
            row(
                "delivered/expected",
                format!(
                    "{} / {} (loss {:.3}%)",
                    d.delivered, d.expected, d.loss_percent
                ),
            );
        }
        if let Some(l) = &self.latency_ms {
            row(
                "latency",
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    l.p50, l.p95, l.p99, l.max
                ),
            );
        }
        if let Some(p) = &self.presence {
            let all = p
                .all_subscribed_seconds
                .map_or_else(|| "not all".to_owned(), |s| format!("{s:.3} s"));
            row(
                "subscribed",
                format!(
                    "{} ({} refused), all in {all}; p50 {:.1} ms  p99 {:.1} ms",
                    p.subscribed, p.refused, p.subscribe_time_ms.p50, p.subscribe_time_ms.p99
                ),
            );
            row(
                "presence pushes",
                format!(
                    "{} ({} join, {} batch, {} leave), {:.1} MiB, settled after {:.2} s",
                    p.pushes,
                    p.join_pushes,
                    p.batch_pushes,
                    p.leave_pushes,
                    p.bytes as f64 / 1048576.0,
                    p.settled_seconds
                ),
            );
            row(
                "per connection",
                format!(
                    "{:.1} pushes (min {}, max {}), {:.0} members announced",
                    p.mean_pushes_per_connection,
                    p.pushes_per_connection[0],
                    p.pushes_per_connection[1],
                    p.members_announced as f64 / p.subscribed.max(1) as f64
                ),
            );
            row(
                "saw own join",
                format!("{} of {}", p.saw_own_join, p.subscribed),
            );
            row(
                "server per subscription",
                optional(p.server_cpu_us_per_subscription, "µs"),
            );
        }
        if let Some(c) = &self.chat {
            row(
                "messages",
                format!(
                    "{} sent, {} acked, {} refused, {} unanswered over {} channels",
                    c.sent, c.acked, c.refused, c.unanswered, c.channels
                ),
            );
            row("message rate", format!("{:.0} acked /s", c.per_second));
            row(
                "ack latency",
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    c.ack_ms.p50, c.ack_ms.p95, c.ack_ms.p99, c.ack_ms.max
                ),
            );
            row(
                "server per message",
                optional(c.server_cpu_us_per_message, "µs"),
            );
            row(
                "store per message",
                match (c.statements_per_message, c.messages_per_transaction) {
                    (Some(statements), Some(batch)) => {
                        format!("{statements:.2} statements, {batch:.1} messages per transaction")
                    }
                    _ => "n/a (no store counters in /metrics)".to_owned(),
                },
            );
        }
        if let Some(d) = &self.docs {
            row(
                "document writes",
                format!(
                    "{} sent, {} acked, {} refused, {} unanswered by {} writers",
                    d.sent, d.acked, d.refused, d.unanswered, d.writers
                ),
            );
            row("write rate", format!("{:.0} acked /s", d.per_second));
            row(
                "ack latency",
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    d.ack_ms.p50, d.ack_ms.p95, d.ack_ms.p99, d.ack_ms.max
                ),
            );
            row(
                "live queries",
                format!(
                    "{} watchers, {} query_changed pushes showing {} documents",
                    d.watchers, d.changes, d.documents_seen
                ),
            );
            row(
                "write to watcher",
                format!(
                    "p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    d.change_ms.p50, d.change_ms.p95, d.change_ms.p99, d.change_ms.max
                ),
            );
            row(
                "server per write",
                optional(d.server_cpu_us_per_write, "µs"),
            );
        }
        if let Some(r) = &self.reconnect {
            r.rows(&mut row);
        }
        if let Some(s) = &self.soak {
            row(
                "cycles",
                format!(
                    "{} run, {} failed, {} error replies, {} skipped (all running)",
                    s.cycles, s.failed_cycles, s.error_replies, s.skipped_cycles
                ),
            );
            row(
                "scrapes",
                format!("{} read, {} failed", s.scrapes, s.scrape_failures),
            );
            let at = |seconds: Option<u64>, bytes: Option<u64>| match (seconds, bytes) {
                (Some(seconds), Some(bytes)) => format!("{} at {seconds} s", mib(bytes)),
                _ => "n/a".to_owned(),
            };
            row(
                "server rss",
                format!(
                    "{} (baseline), {} (end): growth {}",
                    at(s.baseline_seconds, s.baseline_rss_bytes),
                    at(s.end_seconds, s.end_rss_bytes),
                    optional(s.growth_percent, "%")
                ),
            );
        }
        let d = &self.disconnects;
        let others: Vec<String> = d
            .other_codes
            .iter()
            .map(|(code, count)| format!("{code}×{count}"))
            .collect();
        row(
            "disconnects",
            format!(
                "slow (4201) {}, other [{}], dropped {}, error replies {}",
                d.slow_4201,
                others.join(" "),
                d.dropped,
                d.error_replies
            ),
        );
        match &self.server {
            Some(s) => {
                let label = if s.processes > 1 {
                    format!("server cpu ({} processes)", s.processes)
                } else {
                    "server cpu".to_owned()
                };
                row(
                    &label,
                    format!(
                        "{:.1}% of a core, {} per delivery (user {}, kernel {})",
                        s.cpu_percent,
                        optional(s.cpu_us_per_delivery, "µs"),
                        optional(s.user_us_per_delivery, "µs"),
                        optional(s.system_us_per_delivery, "µs"),
                    ),
                );
                let before = s.rss_before_bytes.map_or_else(|| "n/a".to_owned(), mib);
                row(
                    "server rss",
                    format!(
                        "{} before, {} after, {} per connection",
                        before,
                        mib(s.rss_after_bytes),
                        s.rss_per_connection_bytes
                            .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} KiB", b / 1024.0))
                    ),
                );
            }
            // A soak reports the server's memory in its own rows.
            None if self.soak.is_some() => {}
            None => row("server", "not measured (pass --server-pid)".to_owned()),
        }
        let g = &self.generator;
        if self.soak.is_none() {
            row(
                "generator cpu",
                format!(
                    "{:.1}% of a core, {} per delivery (user {}, kernel {}) over {:.1} s",
                    g.cpu_percent,
                    optional(g.cpu_us_per_delivery, "µs"),
                    optional(g.user_us_per_delivery, "µs"),
                    optional(g.system_us_per_delivery, "µs"),
                    g.measured_seconds
                ),
            );
        }
        if let Some(m) = &self.machine {
            row(
                "machine",
                format!(
                    "{} cores, {:.0}% busy of {}%: interrupts {:.0}% ({} per delivery), others {:.0}%, load {:.2} → {:.2}",
                    m.cores,
                    m.busy_percent,
                    m.cores * 100,
                    m.interrupts_percent,
                    optional(m.interrupts_us_per_delivery, "µs"),
                    m.others_percent,
                    m.load_average[0],
                    m.load_average[1]
                ),
            );
        }
        for (message, count) in &self.errors {
            row("error", format!("{count}× {message}"));
        }
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<width$}  {value}");
        }
        out
    }
}
