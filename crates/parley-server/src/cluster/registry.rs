//! Keeping this node in the deployment's node registry.

use std::sync::Arc;

use parley_cluster::{AppFigures, NodeReport};
use parley_core::Node;
use tokio_util::sync::CancellationToken;

use super::Cluster;

/// This node's report in `cluster`: its number, start and each app's
/// figures.
pub fn report(node: &Node, cluster: &Cluster) -> NodeReport {
    NodeReport {
        name: cluster.node().to_owned(),
        number: node.info().number.to_string(),
        started_at_ms: cluster.started_at_ms,
        apps: node
            .apps()
            .map(|app| {
                let hub = &app.hub;
                let figures = AppFigures {
                    connections: hub.connection_count() as u64,
                    subscriptions: hub.subscription_count() as u64,
                    channels: hub.channel_count() as u64,
                };
                (app.id.to_string(), figures)
            })
            .collect(),
    }
}

/// Refreshes this node's entry every `refresh` until shutdown, then
/// removes it, so the other nodes stop listing it at once (a node that
/// dies instead ages out after `node_ttl`). A failed refresh is logged
/// and tried again at the next tick. Without a cluster there is nothing
/// to keep.
pub async fn keep_registered(
    node: Arc<Node>,
    cluster: Option<Arc<Cluster>>,
    shutdown: CancellationToken,
) {
    let Some(cluster) = cluster else {
        return;
    };
    let mut interval = tokio::time::interval(cluster.refresh);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = interval.tick() => {
                let report = report(&node, &cluster);
                if let Err(error) = cluster.registry.record(&report).await {
                    tracing::warn!(node = %cluster.node(), %error, "cannot refresh this node in the node registry");
                }
                // Dead nodes leave the registry; their users go offline.
                node.sweep_statuses().await;
            }
        }
    }
    if let Err(error) = cluster.registry.remove().await {
        tracing::warn!(node = %cluster.node(), %error, "cannot remove this node from the node registry; it ages out");
    }
}
