//! The `[cluster]` section: which broker the node uses, and how it reaches
//! the other nodes of its deployment.

use std::path::PathBuf;
use std::time::Duration;

use parley_cluster::Transport;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Which broker assigns stream positions and delivers publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// In this process: the node is the whole deployment.
    #[default]
    Memory,
    /// In Redis, shared by every node with the same `redis_url` and
    /// `prefix`.
    Redis,
}

/// Cluster options, as written in `[cluster]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `"memory"` (one node) or `"redis"` (several nodes over Redis).
    pub broker: BrokerKind,
    /// The Redis of the deployment: `redis://[:password@]host:port[/db]`,
    /// `rediss://…` over TLS, or the master Redis Sentinel names,
    /// `redis+sentinel://[:password@]host:26379[,host:port…]/master[/db]`
    /// (`rediss+sentinel://` over TLS).
    pub redis_url: String,
    /// With TLS: a PEM file of the authorities to trust instead of the
    /// public ones built into the binary.
    pub redis_tls_ca: Option<PathBuf>,
    /// With TLS: a PEM client certificate, for a Redis that asks for one;
    /// with `redis_tls_key`.
    pub redis_tls_cert: Option<PathBuf>,
    /// With TLS: the client certificate's PEM private key.
    pub redis_tls_key: Option<PathBuf>,
    /// The prefix of every Redis key and topic, so several deployments can
    /// share one Redis.
    pub prefix: String,
    /// This node's name, in logs; generated when absent.
    pub node: Option<String>,
    /// How long one Redis command may take before it fails.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub redis_timeout: Duration,
    /// How long this node stays in the node registry after its last
    /// refresh; it refreshes every third of it.
    #[serde(
        deserialize_with = "super::duration::required",
        serialize_with = "super::duration::serialize"
    )]
    pub node_ttl: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            broker: BrokerKind::Memory,
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            redis_tls_ca: None,
            redis_tls_cert: None,
            redis_tls_key: None,
            prefix: "parley".to_owned(),
            node: None,
            redis_timeout: Duration::from_secs(2),
            node_ttl: Duration::from_secs(15),
        }
    }
}

impl ClusterConfig {
    /// Applies `PARLEY_CLUSTER_BROKER`, `PARLEY_CLUSTER_REDIS_URL`,
    /// `PARLEY_CLUSTER_PREFIX` and `PARLEY_CLUSTER_NODE`.
    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(broker) = env("PARLEY_CLUSTER_BROKER") {
            self.broker = match broker.as_str() {
                "memory" => BrokerKind::Memory,
                "redis" => BrokerKind::Redis,
                other => {
                    return Err(ConfigError::Env {
                        name: "PARLEY_CLUSTER_BROKER",
                        message: format!("{other:?} is not \"memory\" or \"redis\""),
                    });
                }
            };
        }
        if let Some(url) = env("PARLEY_CLUSTER_REDIS_URL") {
            self.redis_url = url;
        }
        if let Some(prefix) = env("PARLEY_CLUSTER_PREFIX") {
            self.prefix = prefix;
        }
        if let Some(node) = env("PARLEY_CLUSTER_NODE") {
            self.node = Some(node);
        }
        Ok(())
    }

    /// What is wrong with the options, if anything.
    pub fn problem(&self) -> Option<String> {
        let is_name = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic());
        if !is_name(&self.prefix) {
            return Some(format!(
                "cluster.prefix {:?} must be printable ASCII without spaces",
                self.prefix
            ));
        }
        if let Some(node) = &self.node
            && !is_name(node)
        {
            return Some(format!(
                "cluster.node {node:?} must be printable ASCII without spaces"
            ));
        }
        if self.redis_timeout.is_zero() {
            return Some("cluster.redis_timeout must be above zero".into());
        }
        if self.node_ttl < Duration::from_secs(1) {
            return Some("cluster.node_ttl must be at least 1s".into());
        }
        if self.broker == BrokerKind::Redis {
            // The URL is not repeated: it may hold a password.
            let transport = match parley_cluster::check_redis_url(&self.redis_url) {
                Ok(transport) => transport,
                Err(problem) => return Some(format!("cluster.redis_url {problem}")),
            };
            let tls_files = [
                ("redis_tls_ca", &self.redis_tls_ca),
                ("redis_tls_cert", &self.redis_tls_cert),
                ("redis_tls_key", &self.redis_tls_key),
            ];
            if transport == Transport::Plain
                && let Some((key, _)) = tls_files.iter().find(|(_, file)| file.is_some())
            {
                return Some(format!(
                    "cluster.{key} needs a TLS redis_url (rediss:// or rediss+sentinel://)"
                ));
            }
            if self.redis_tls_cert.is_some() != self.redis_tls_key.is_some() {
                return Some("cluster.redis_tls_cert and cluster.redis_tls_key go together".into());
            }
        }
        None
    }

    /// This node's name: the configured one, or one made up at start.
    pub fn node_name(&self) -> String {
        self.node
            .clone()
            .unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()))
    }
}
