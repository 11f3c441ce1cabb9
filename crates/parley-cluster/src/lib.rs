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
//! - `keys.rs`: the names of a channel's keys and topic under the
//!   deployment's prefix.
//! - `codec.rs`: a publication as the bytes that travel through Redis.
//! - `scripts.rs`: the publish and read scripts.
//! - `broker_redis.rs`: [`RedisBroker`] and its [`RedisOptions`].
//! - `subscriber.rs`: the pub/sub connection, its reconnects and the
//!   ordered delivery per channel.
//!
//! The crate keeps Redis out of `parley-core`, which stays free of any
//! transport.

mod broker_redis;
mod codec;
mod keys;
mod scripts;
mod subscriber;

pub use broker_redis::{RedisBroker, RedisOptions};
