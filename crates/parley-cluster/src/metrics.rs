//! The cluster's figures for operators, in the process's `metrics`
//! recorder (Prometheus at `/metrics`). Every one is labelled with the
//! node's name, so a process holding several nodes (tests do) keeps them
//! apart.
//!
//! - `parley_cluster_redis_errors_total`: Redis commands that failed or
//!   got no answer in time.
//! - `parley_cluster_pubsub_reconnects_total`: pub/sub connections (the
//!   broker's and the control topic's) lost and made again.
//! - `parley_cluster_catch_ups_total`: channels that missed publications
//!   and read them back (from the history or the store).
//! - `parley_cluster_gaps_total`: channels whose missed publications could
//!   not be read back any more; `parley_cluster_gap_disconnects_total`:
//!   the subscribers closed for it (native close code 4204).
//! - `parley_cluster_relay_backlog`: this node's commits waiting to be
//!   relayed to the other nodes; `parley_cluster_relay_dropped_total`:
//!   commits given up because that backlog was full.

use metrics::{Counter, Gauge};

/// Handles on one node's cluster metrics, registered once.
#[derive(Clone)]
pub(crate) struct ClusterMetrics {
    pub(crate) redis_errors: Counter,
    pub(crate) pubsub_reconnects: Counter,
    pub(crate) catch_ups: Counter,
    pub(crate) gaps: Counter,
    pub(crate) gap_disconnects: Counter,
    pub(crate) relay_backlog: Gauge,
    pub(crate) relay_dropped: Counter,
}

impl ClusterMetrics {
    /// Registers the metrics of the node named `node`.
    pub(crate) fn new(node: &str) -> Self {
        let label = [("node", node.to_owned())];
        Self {
            redis_errors: metrics::counter!("parley_cluster_redis_errors_total", &label),
            pubsub_reconnects: metrics::counter!("parley_cluster_pubsub_reconnects_total", &label),
            catch_ups: metrics::counter!("parley_cluster_catch_ups_total", &label),
            gaps: metrics::counter!("parley_cluster_gaps_total", &label),
            gap_disconnects: metrics::counter!("parley_cluster_gap_disconnects_total", &label),
            relay_backlog: metrics::gauge!("parley_cluster_relay_backlog", &label),
            relay_dropped: metrics::counter!("parley_cluster_relay_dropped_total", &label),
        }
    }
}
