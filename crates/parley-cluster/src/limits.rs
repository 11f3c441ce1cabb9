//! Message limits shared by every node: a user's rate and a channel's slow
//! mode are counted in Redis, so a user who alternates between nodes gets
//! the limit once, not once per node.
//!
//! One script per message does both checks and takes the message, in one
//! round trip and atomically: the rate is a GCRA (the theoretical arrival
//! time of the user's next message, one key per user and namespace, the
//! same bucket as the single-node limiter: `count` at once, refilled evenly
//! over the period), slow mode a key per user and channel that lives for
//! the slow-mode period. Time is Redis's own clock, so the nodes' clocks
//! need not agree. Keys expire when they no longer limit anything.

use std::sync::LazyLock;
use std::time::Duration;

use parley_core::BackendError;
use redis::Script;

use crate::broker_redis::{RedisOptions, within};
use crate::connection::{Commands, Connector};
use crate::keys::Keys;

/// KEYS: the rate bucket, the slow-mode marker. ARGV: the emission interval
/// in microseconds (0: no rate), the burst tolerance in microseconds (the
/// interval times `count - 1`), the slow-mode period in milliseconds (0: no
/// slow mode). Returns 0 when the message is taken, else the wait in
/// microseconds. Nothing is recorded for a refused message.
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval, tolerance, slow = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if slow > 0 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return left * 1000 end
end
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local wait = tat - tolerance - now
  if wait > 0 then return wait end
  tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
if slow > 0 then redis.call('SET', KEYS[2], '1', 'PX', slow) end
return 0
"#,
    )
});

/// One namespace's limits, as the shared check takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimit {
    /// `count` messages per `period`, the burst being `count`.
    pub rate: Option<(u32, Duration)>,
    /// One message per user per channel per this period.
    pub slow_mode: Option<Duration>,
}

/// A node's handle on the shared limits.
pub struct SharedLimits {
    connection: Commands,
    keys: Keys,
    timeout: Duration,
}

impl SharedLimits {
    /// Connects to the deployment's Redis.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        let connection = Connector::new(options)?.commands("limits connect").await?;
        Ok(Self {
            connection,
            keys: Keys::new(&options.prefix),
            timeout: options.timeout,
        })
    }

    /// Takes one message of `user` in `channel` of `namespace`, or says how
    /// long to wait (`Ok(Err(wait))`); `Err` when Redis did not answer.
    pub async fn check(
        &self,
        app: &str,
        namespace: &str,
        channel: &str,
        user: &str,
        limit: SharedLimit,
    ) -> Result<Result<(), Duration>, BackendError> {
        let (interval, tolerance) = match limit.rate {
            Some((count, period)) => {
                let count = count.max(1);
                let interval = (micros(period) / u64::from(count)).max(1);
                (interval, interval * u64::from(count - 1))
            }
            None => (0, 0),
        };
        let slow_ms = limit.slow_mode.map_or(0, |slow| {
            u64::try_from(slow.as_millis()).unwrap_or(u64::MAX)
        });
        let mut invocation = CHECK.prepare_invoke();
        invocation
            .key(self.keys.rate_bucket(app, namespace, user))
            .key(self.keys.slow_mode(app, channel, user))
            .arg(interval)
            .arg(tolerance)
            .arg(slow_ms);
        let mut connection = self.connection.clone();
        let wait: u64 = within(
            self.timeout,
            "limits check",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        Ok(match wait {
            0 => Ok(()),
            micros => Err(Duration::from_micros(micros)),
        })
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
