//! The node registry: which nodes of a deployment are alive, with their
//! figures.
//!
//! Each node keeps a hash `<prefix>:node:<name>` with a TTL and refreshes
//! it every few seconds; a node that dies stops refreshing and its hash
//! expires, so it leaves the registry by itself. The names are also kept
//! in the sorted set `<prefix>:nodes`, so a listing needs no `SCAN`; a
//! name whose hash has expired is dropped from the set when a listing
//! finds it.

use std::collections::BTreeMap;
use std::time::Duration;

use parley_core::BackendError;

use crate::broker_redis::{RedisOptions, within};
use crate::connection::{Commands, Connector};
use crate::keys::Keys;

/// One app's figures on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppFigures {
    /// Connections that completed `connect`.
    pub connections: u64,
    /// Subscriptions.
    pub subscriptions: u64,
    /// Channels with at least one subscriber on the node.
    pub channels: u64,
}

/// What one node reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// The node's name (`[cluster] node`).
    pub name: String,
    /// The node's number, the first part of its client ids.
    pub number: String,
    /// When the node started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// The figures of each app, by app id.
    pub apps: BTreeMap<String, AppFigures>,
}

/// A node's handle on the registry.
pub struct NodeRegistry {
    connection: Commands,
    keys: Keys,
    node: String,
    ttl: Duration,
    timeout: Duration,
}

impl NodeRegistry {
    /// Opens the registry of the deployment of `options`; this node's
    /// entry lives `ttl` after each [`NodeRegistry::record`].
    pub async fn connect(options: &RedisOptions, ttl: Duration) -> Result<Self, BackendError> {
        let connection = Connector::new(options)?
            .commands("registry connect")
            .await?;
        Ok(Self {
            connection,
            keys: Keys::new(&options.prefix),
            node: options.node.clone(),
            ttl,
            timeout: options.timeout,
        })
    }

    /// Writes this node's report, replacing the previous one, and gives it
    /// a fresh TTL.
    pub async fn record(&self, report: &NodeReport) -> Result<(), BackendError> {
        let key = self.keys.node(&self.node);
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let mut fields: Vec<(String, String)> = vec![
            ("number".into(), report.number.clone()),
            ("started_at".into(), report.started_at_ms.to_string()),
        ];
        for (app, figures) in &report.apps {
            fields.push((
                format!("connections:{app}"),
                figures.connections.to_string(),
            ));
            fields.push((
                format!("subscriptions:{app}"),
                figures.subscriptions.to_string(),
            ));
            fields.push((format!("channels:{app}"), figures.channels.to_string()));
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(&key)
            .ignore()
            .hset_multiple(&key, &fields)
            .ignore()
            .pexpire(&key, ttl_ms)
            .ignore()
            .zadd(self.keys.nodes(), &self.node, 0)
            .ignore()
            .pexpire(self.keys.nodes(), ttl_ms)
            .ignore();
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "registry record",
            pipe.query_async::<()>(&mut connection),
        )
        .await
    }

    /// Removes this node's entry at once, at a clean shutdown.
    pub async fn remove(&self) -> Result<(), BackendError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(self.keys.node(&self.node))
            .ignore()
            .zrem(self.keys.nodes(), &self.node)
            .ignore();
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "registry remove",
            pipe.query_async::<()>(&mut connection),
        )
        .await
    }

    /// The live nodes, sorted by name.
    pub async fn nodes(&self) -> Result<Vec<NodeReport>, BackendError> {
        let mut connection = self.connection.clone();
        let names: Vec<String> = within(
            self.timeout,
            "registry list",
            redis::cmd("ZRANGE")
                .arg(self.keys.nodes())
                .arg(0)
                .arg(-1)
                .query_async(&mut connection),
        )
        .await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.hgetall(self.keys.node(name));
        }
        let hashes: Vec<Vec<(String, String)>> = within(
            self.timeout,
            "registry read",
            pipe.query_async(&mut connection),
        )
        .await?;
        let mut live = Vec::with_capacity(names.len());
        let mut dead = Vec::new();
        for (name, hash) in names.into_iter().zip(hashes) {
            if hash.is_empty() {
                dead.push(name);
            } else {
                live.push(parse_report(name, hash));
            }
        }
        if !dead.is_empty() {
            // Best effort: a later listing drops them as well.
            let _ = within(
                self.timeout,
                "registry sweep",
                redis::cmd("ZREM")
                    .arg(self.keys.nodes())
                    .arg(&dead)
                    .query_async::<u64>(&mut connection),
            )
            .await;
        }
        Ok(live)
    }
}

/// A node's hash as a report; fields it does not know are skipped, and a
/// figure that does not parse counts as zero.
fn parse_report(name: String, hash: Vec<(String, String)>) -> NodeReport {
    let mut report = NodeReport {
        name,
        ..NodeReport::default()
    };
    for (field, value) in hash {
        match field.split_once(':') {
            None if field == "number" => report.number = value,
            None if field == "started_at" => report.started_at_ms = value.parse().unwrap_or(0),
            Some((kind, app)) => {
                let figures = report.apps.entry(app.to_owned()).or_default();
                let figure = value.parse().unwrap_or(0);
                match kind {
                    "connections" => figures.connections = figure,
                    "subscriptions" => figures.subscriptions = figure,
                    "channels" => figures.channels = figure,
                    _ => {}
                }
            }
            None => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::{AppFigures, parse_report};

    #[test]
    fn a_hash_reads_back_as_the_report_it_was_written_from() {
        let report = parse_report(
            "web-1".into(),
            vec![
                ("number".into(), "42".into()),
                ("started_at".into(), "1000".into()),
                ("connections:main".into(), "3".into()),
                ("subscriptions:main".into(), "5".into()),
                ("channels:main".into(), "2".into()),
                ("unknown".into(), "x".into()),
            ],
        );
        assert_eq!(report.number, "42");
        assert_eq!(report.started_at_ms, 1000);
        assert_eq!(
            report.apps["main"],
            AppFigures {
                connections: 3,
                subscriptions: 5,
                channels: 2
            }
        );
    }
}
