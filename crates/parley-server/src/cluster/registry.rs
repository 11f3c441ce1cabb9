//! Keeping this node in the deployment's node registry.

use std::sync::Arc;

use parley_cluster::{AppFigures, NodeReport};

use crate::state::ServerState;

/// This node's report: its number, start and each app's figures.
pub fn report(server: &ServerState, started_at_ms: u64) -> NodeReport {
    NodeReport {
        name: server
            .cluster
            .as_ref()
            .map(|cluster| cluster.node().to_owned())
            .unwrap_or_default(),
        number: server.node.info().number.to_string(),
        started_at_ms,
        apps: server
            .apps
            .iter()
            .map(|(id, app)| {
                let hub = &app.app.hub;
                let figures = AppFigures {
                    connections: hub.connection_count() as u64,
                    subscriptions: hub.subscription_count() as u64,
                    channels: hub.channel_count() as u64,
                };
                (id.clone(), figures)
            })
            .collect(),
    }
}

/// Refreshes this node's entry every `refresh` until shutdown, then
/// removes it, so the other nodes stop listing it at once (a node that
/// dies instead ages out after `node_ttl`). A failed refresh is logged
/// and tried again at the next tick.
pub async fn keep_registered(server: Arc<ServerState>) {
    let Some(cluster) = server.cluster.clone() else {
        return;
    };
    let mut interval = tokio::time::interval(cluster.refresh);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = server.shutdown.cancelled() => break,
            _ = interval.tick() => {
                let report = report(&server, cluster.started_at_ms);
                if let Err(error) = cluster.registry.record(&report).await {
                    tracing::warn!(node = %cluster.node(), %error, "cannot refresh this node in the node registry");
                }
            }
        }
    }
    if let Err(error) = cluster.registry.remove().await {
        tracing::warn!(node = %cluster.node(), %error, "cannot remove this node from the node registry; it ages out");
    }
}
