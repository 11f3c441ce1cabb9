//! `SharedCache`: the last event of each Pusher `cache-` channel, kept in
//! Redis for the deployment, so a subscriber on any node gets the event
//! published through another. Each value is a key with the cache's TTL;
//! the server decides what the bytes hold.

use std::time::Duration;

use parley_core::BackendError;

use crate::broker_redis::{RedisOptions, command_connection, within};
use crate::connection::Commands;
use crate::keys::Keys;

/// A node's handle on the deployment's cached events.
pub struct SharedCache {
    connection: Commands,
    keys: Keys,
    timeout: Duration,
}

impl SharedCache {
    /// Connects to the deployment's Redis.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        let connection = command_connection(options, "cache connect").await?;
        Ok(Self {
            connection,
            keys: Keys::new(&options.prefix),
            timeout: options.timeout,
        })
    }

    /// Keeps `value` as the last event of `channel` for `ttl`.
    pub async fn keep(
        &self,
        app: &str,
        channel: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "cache keep",
            redis::cmd("SET")
                .arg(self.keys.cache(app, channel))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async::<()>(&mut connection),
        )
        .await
    }

    /// The last event of `channel`, if one is kept.
    pub async fn last(&self, app: &str, channel: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "cache read",
            redis::cmd("GET")
                .arg(self.keys.cache(app, channel))
                .query_async(&mut connection),
        )
        .await
    }
}
