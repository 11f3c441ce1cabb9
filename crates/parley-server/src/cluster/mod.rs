//! This node's part in a cluster (`[cluster] broker = "redis"`) beyond the
//! broker: the control topic, on which every control action reaches the
//! other nodes (`control.rs`), and the node registry, which `/api/v1/info`
//! reads (`registry.rs`), the channels' subscribers on the whole
//! deployment (`occupancy.rs`), the message limits counted for the whole
//! deployment, and presence, typing and user status shared by every node.

pub mod control;
pub mod occupancy;
pub mod registry;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parley_cluster::{
    ControlBus, NodeRegistry, PresenceBus, RedisOptions, RedisPresence, RedisStatus, SharedCache,
    SharedLimits,
};
use parley_core::BackendError;

use self::occupancy::ClusterOccupancy;

/// What a node of a cluster holds besides its broker.
pub struct Cluster {
    /// The control topic, shared by every node of the deployment.
    pub bus: ControlBus,
    /// The live nodes of the deployment, this one included.
    pub registry: NodeRegistry,
    /// Message rate limits and slow mode, counted for the deployment.
    pub limits: Arc<SharedLimits>,
    /// Each channel's subscribers on the deployment; also one of the
    /// node's channel observers.
    pub occupancy: Arc<ClusterOccupancy>,
    /// The last event of each Pusher cache channel.
    pub cache: Arc<SharedCache>,
    /// Presence leases, shared by the deployment.
    pub presence: Arc<RedisPresence>,
    /// User status, shared by the deployment.
    pub status: Arc<RedisStatus>,
    /// The topic on which nodes tell each other their presence changes.
    pub presence_bus: Arc<PresenceBus>,
    /// How often this node refreshes its registry entry.
    pub refresh: Duration,
    /// When this node started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
}

impl Cluster {
    /// Connects the control topic and the registry, so an unreachable
    /// Redis fails the start; the entry lives `node_ttl` after each
    /// refresh and is refreshed every third of it.
    pub async fn connect(options: &RedisOptions, node_ttl: Duration) -> Result<Self, BackendError> {
        let bus = ControlBus::connect(options).await?;
        let registry = NodeRegistry::connect(options, node_ttl).await?;
        let limits = Arc::new(SharedLimits::connect(options).await?);
        let occupancy = Arc::new(ClusterOccupancy::connect(options, node_ttl).await?);
        let cache = Arc::new(SharedCache::connect(options).await?);
        let presence = Arc::new(RedisPresence::connect(options).await?);
        let status = Arc::new(RedisStatus::connect(options).await?);
        let presence_bus = Arc::new(PresenceBus::connect(options).await?);
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Ok(Self {
            bus,
            registry,
            limits,
            occupancy,
            cache,
            presence,
            status,
            presence_bus,
            refresh: node_ttl / 3,
            started_at_ms,
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        self.bus.node()
    }
}
