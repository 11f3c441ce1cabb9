//! The server's own store counters, read from its `/metrics` (Prometheus
//! text): how many statements the store's writer ran, how many writes they
//! carried and in how many transactions. The chat scenario reads them
//! before and after its measured window to report statements per message,
//! a figure of the server's work that no client can observe.

use std::time::Duration;

/// How long one read of `/metrics` may take.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The store writer's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreCounters {
    /// `parley_store_statements_total`.
    pub statements: f64,
    /// `parley_store_operations_total`: writes answered.
    pub operations: f64,
    /// `parley_store_transactions_total`: batches committed.
    pub transactions: f64,
}

impl StoreCounters {
    /// Reads the counters from the server at `base_url`; `None` when the
    /// server cannot be read or has no store counters (an older server, or
    /// one with no durable write yet).
    pub async fn read(base_url: &str) -> Option<Self> {
        let url = format!("{}/metrics", base_url.trim_end_matches('/'));
        let read = async {
            let response = reqwest::get(&url).await?.error_for_status()?;
            response.text().await
        };
        let text = tokio::time::timeout(READ_TIMEOUT, read).await.ok()?.ok()?;
        Some(Self::parse(&text))
    }

    /// The counters in a Prometheus text exposition; a counter missing is 0.
    pub fn parse(text: &str) -> Self {
        Self {
            statements: sum(text, "parley_store_statements_total"),
            operations: sum(text, "parley_store_operations_total"),
            transactions: sum(text, "parley_store_transactions_total"),
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            statements: self.statements - earlier.statements,
            operations: self.operations - earlier.operations,
            transactions: self.transactions - earlier.transactions,
        }
    }
}

/// The sum of every series of the metric `name` (whatever its labels).
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            // `name 12` or `name{label="x"} 12`, not `name_other 12`.
            let value = match rest.chars().next()? {
                ' ' => rest,
                '{' => &rest[rest.find('}')? + 1..],
                _ => return None,
            };
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_store_counters_from_prometheus_text() {
        let text = "# TYPE parley_store_statements_total counter\n\
                    parley_store_statements_total 1200\n\
                    parley_store_statements_total_extra 5\n\
                    parley_store_operations_total{app=\"a\"} 100\n\
                    parley_store_operations_total{app=\"b\"} 50\n\
                    parley_store_transactions_total 3\n";
        let counters = StoreCounters::parse(text);
        assert_eq!(counters.statements, 1200.0);
        assert_eq!(counters.operations, 150.0);
        assert_eq!(counters.transactions, 3.0);
        assert_eq!(StoreCounters::parse("").statements, 0.0);
    }
}
