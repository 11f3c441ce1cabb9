//! Parley's cluster broker: several nodes sharing channel streams through
//! Redis.
//!
//! [`RedisBroker`] implements the core's [`Broker`](parley_core::Broker)
//! seam. Redis is the one place that assigns a channel's stream positions:
//! a Lua script (`scripts.rs`) takes the channel's next offset, keeps the
//! publication in the channel's history (a Redis stream) and publishes it
//! to the channel's topic, atomically. Every node subscribes to the topics
//! of the channels it has local subscribers for (`subscriber.rs`), over one
//! dedicated pub/sub connection, and hands each channel's publications to
//! its [`BrokerEventHandler`](parley_core::BrokerEventHandler) in offset
//! order, filling a gap from the history or, when the history no longer
//! holds it, reporting it so the node's subscribers reconnect and recover.
//!
//! Persisted namespaces keep their streams in the shared store: each node
//! relays what its store committed through the channel's topic, and every
//! node (the committing one included) delivers in offset order, reading
//! from the store what did not arrive.
//!
//! - `connection.rs`: every connection to Redis (one server, plain or
//!   TLS, or the master Sentinel names), and reconnecting;
//!   `metrics.rs`: the cluster's figures for operators.
//! - `keys.rs`: the names of a channel's keys and topic under the
//!   deployment's prefix.
//! - `codec.rs`: a publication as the bytes that travel through Redis.
//! - `scripts.rs`: the publish and read scripts.
//! - `broker_redis.rs`: [`RedisBroker`] and its [`RedisOptions`].
//! - `subscriber.rs`: the pub/sub connection and its reconnects;
//!   `ordering.rs`: the ordered delivery per channel (catching up from the
//!   history or the store, holding a persisted channel's early arrivals).
//! - `committed.rs`: [`CommittedStreams`], the store's streams as the
//!   broker reads them; `relay.rs`: the store's commits relayed to the
//!   other nodes.
//! - `control.rs`: [`ControlBus`], the topic on which nodes send each
//!   other commands (disconnects, ended subscriptions, block lists).
//! - `limits.rs`: [`SharedLimits`], message rate limits and slow mode
//!   counted once for the whole deployment.
//! - `registry.rs`: [`NodeRegistry`], the live nodes and their figures,
//!   each entry a hash with a TTL.
//! - `cache.rs`: [`SharedCache`], the last event of each Pusher cache
//!   channel, for the deployment.
//! - `occupancy.rs`: [`Occupancy`], each channel's subscribers on the
//!   whole deployment (each node's count, tied to its liveness), and when
//!   a channel becomes occupied or vacated on it.
//! - `presence.rs`: [`RedisPresence`], the core's presence manager over
//!   Redis (its scripts in `presence_scripts.rs`); `presence_status.rs`:
//!   [`RedisStatus`], user status for the deployment; `presence_bus.rs`:
//!   [`PresenceBus`], the topic on which nodes tell each other their
//!   presence changes (encoded by `presence_codec.rs`).
//!
//! The crate keeps Redis out of `parley-core`, which stays free of any
//! transport.

mod broker_redis;
mod cache;
mod codec;
mod committed;
mod connection;
mod control;
mod keys;
mod limits;
mod metrics;
mod occupancy;
mod ordering;
mod presence;
mod presence_bus;
mod presence_codec;
mod presence_scripts;
mod presence_status;
mod registry;
mod relay;
mod scripts;
mod subscriber;

pub use broker_redis::{ConnectedRedis, RedisBroker, RedisOptions};
pub use cache::SharedCache;
pub use committed::CommittedStreams;
pub use connection::{RedisTls, Transport, check_redis_url};
pub use control::{ControlBus, ControlHandler, ControlListener};
pub use limits::{SharedLimit, SharedLimits};
pub use occupancy::{AppChannel, CountWrite, Occupancy, Recorded, Transition};
pub use presence::RedisPresence;
pub use presence_bus::PresenceBus;
pub use presence_status::RedisStatus;
pub use registry::{AppFigures, NodeRegistry, NodeReport};
