//! Occupancy: how many subscribers each channel has on the whole
//! deployment, and when a channel becomes occupied or vacated on it.
//!
//! Each node writes its own count of a channel (the hub's subscribers of
//! the channel on that node) and Redis keeps, per app, the total of every
//! node's counts. Writing a count is one Lua script for a batch of
//! channels, which also says, per channel, whether the deployment's total
//! crossed zero: only then does the node report `channel_occupied` or
//! `channel_vacated`, so each transition is reported once, by the node
//! whose write made it.
//!
//! A vacated channel may be held back (a webhook's `hold_back`): it waits
//! in a sorted set until its time, and a subscriber arriving on any node
//! meanwhile cancels it (and reports no `channel_occupied`). Any node
//! releases the held channels whose time has come ([`Occupancy::release`]),
//! so a held channel is reported even when the node that vacated it died.
//!
//! A node's counts belong to its liveness: a key with a TTL of `node_ttl`,
//! refreshed with each write and by [`Occupancy::refresh`]. When it
//! expires (the node died or lost Redis), any node's
//! [`Occupancy::sweep`] takes the node's counts out of the totals and
//! reports the channels that became empty; a node that finds its own key
//! expired writes all of its counts again. A node drops its own counts at
//! start (a restart under the same name) and at a clean stop
//! ([`Occupancy::forget`]).
//!
//! The same machinery serves any "who holds what, per node" count: the
//! `kind` names the family of keys (`occupancy` for channels, `signins`
//! for Pusher's signed-in users).
//!
//! Keys, under `<prefix>:<kind>`: `:<app length>.<app>` the totals (a hash
//! channel → total), `-node:<node>` a node's counts (a hash `<app
//! length>.<app>:<channel>` → count), `-alive:<node>` its liveness,
//! `-nodes` the nodes with counts, `-held` the held vacated channels (a
//! sorted set by release time in Redis's clock).

use std::sync::LazyLock;
use std::time::Duration;

use parley_core::BackendError;
use redis::Script;

use crate::broker_redis::{RedisOptions, command_connection, within};
use crate::connection::Commands;

/// The Lua functions every occupancy script shares: key names, and taking
/// a node's counts out of the totals.
const COMMON: &str = r#"
local prefix = ARGV[1]
local function totals_key(app) return prefix .. ':' .. #app .. '.' .. app end
local function member(app, name) return #app .. '.' .. app .. ':' .. name end
local function split(member)
  local dot = string.find(member, '.', 1, true)
  local len = tonumber(string.sub(member, 1, dot - 1))
  return string.sub(member, dot + 1, dot + len), string.sub(member, dot + len + 2)
end
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
local function forget(node, out)
  local records = prefix .. '-node:' .. node
  local all = redis.call('HGETALL', records)
  for i = 1, #all, 2 do
    local app, name = split(all[i])
    local totals = totals_key(app)
    local total = redis.call('HINCRBY', totals, name, -tonumber(all[i + 1]))
    if total <= 0 then
      redis.call('HDEL', totals, name)
      table.insert(out, app)
      table.insert(out, name)
    end
  end
  redis.call('DEL', records)
  redis.call('SREM', prefix .. '-nodes', node)
end
"#;

/// Sets this node's counts. ARGV: prefix, node, liveness ttl (ms), then
/// per channel: app, channel, count, hold-back (ms). Returns whether the
/// node's liveness key was still there (1) or had expired (0), then per
/// channel its transition (0 none, 1 occupied, 2 vacated) and its total.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{COMMON}{}",
        r#"
local node, ttl = ARGV[2], ARGV[3]
local alive_key = prefix .. '-alive:' .. node
local alive = redis.call('EXISTS', alive_key)
redis.call('SET', alive_key, '1', 'PX', ttl)
redis.call('SADD', prefix .. '-nodes', node)
local records = prefix .. '-node:' .. node
local held = prefix .. '-held'
local out = {alive}
for i = 4, #ARGV, 4 do
  local app, name = ARGV[i], ARGV[i + 1]
  local count, hold = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local key = member(app, name)
  local old = tonumber(redis.call('HGET', records, key) or '0')
  if count > 0 then
    redis.call('HSET', records, key, count)
  else
    redis.call('HDEL', records, key)
  end
  local totals = totals_key(app)
  local before = tonumber(redis.call('HGET', totals, name) or '0')
  local total = before + count - old
  if total > 0 then
    redis.call('HSET', totals, name, total)
  else
    total = 0
    redis.call('HDEL', totals, name)
  end
  local transition = 0
  if before <= 0 and total > 0 then
    if redis.call('ZREM', held, key) == 0 then transition = 1 end
  elseif before > 0 and total == 0 then
    if hold > 0 then
      redis.call('ZADD', held, now_ms() + hold, key)
    else
      transition = 2
    end
  end
  table.insert(out, transition)
  table.insert(out, total)
end
return out
"#
    ))
});

/// Refreshes this node's liveness. ARGV: prefix, node, ttl (ms). Returns
/// whether the key was still there.
static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local key = ARGV[1] .. '-alive:' .. ARGV[2]
local alive = redis.call('EXISTS', key)
redis.call('SET', key, '1', 'PX', ARGV[3])
return alive
"#,
    )
});

/// Takes the counts of every node whose liveness expired (or, with a node
/// in ARGV[2], of that node) out of the totals. ARGV: prefix, node or "".
/// Returns the channels that became empty, as app, channel pairs.
static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{COMMON}{}",
        r#"
local out = {}
if ARGV[2] ~= '' then
  forget(ARGV[2], out)
  redis.call('DEL', prefix .. '-alive:' .. ARGV[2])
  return out
end
for _, node in ipairs(redis.call('SMEMBERS', prefix .. '-nodes')) do
  if redis.call('EXISTS', prefix .. '-alive:' .. node) == 0 then
    forget(node, out)
  end
end
return out
"#
    ))
});

/// Releases the held vacated channels whose time has come. ARGV: prefix.
/// Returns them as app, channel pairs.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{COMMON}{}",
        r#"
local held = prefix .. '-held'
local due = redis.call('ZRANGEBYSCORE', held, '-inf', now_ms(), 'LIMIT', 0, 1000)
local out = {}
for _, key in ipairs(due) do
  redis.call('ZREM', held, key)
  local app, name = split(key)
  if redis.call('HEXISTS', totals_key(app), name) == 0 then
    table.insert(out, app)
    table.insert(out, name)
  end
end
return out
"#
    ))
});

/// One count this node writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountWrite {
    /// The app.
    pub app: String,
    /// The channel (or, for sign-ins, the user).
    pub name: String,
    /// This node's count now.
    pub count: u64,
    /// How long a vacated channel is held back before it is reported;
    /// zero reports it at once.
    pub hold_back: Duration,
}

/// What a write did to the deployment's total of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The total did not cross zero, or a held vacated channel was
    /// occupied again (nothing to report).
    None,
    /// The total went from zero to above: report the channel occupied.
    Occupied,
    /// The total went to zero and is not held back: report it vacated.
    Vacated,
}

/// The outcome of [`Occupancy::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Whether this node's counts were still in Redis before the write.
    /// When not (the node was taken for dead), the caller writes all of
    /// its counts again.
    pub was_alive: bool,
    /// Per write, in order: its transition and the deployment's total.
    pub totals: Vec<(Transition, u64)>,
}

/// A channel of an app, as the sweeps and releases name them.
pub type AppChannel = (String, String);

/// A node's handle on the deployment's counts of one `kind`.
pub struct Occupancy {
    connection: Commands,
    /// `<prefix>:<kind>`, the start of every key.
    base: String,
    node: String,
    ttl_ms: u64,
    timeout: Duration,
}

/// Writes per script call at most, so that one call stays short.
const WRITES_PER_CALL: usize = 500;

impl Occupancy {
    /// Connects to the deployment's Redis; this node's counts live
    /// `node_ttl` after each write or refresh.
    pub async fn connect(
        options: &RedisOptions,
        kind: &str,
        node_ttl: Duration,
    ) -> Result<Self, BackendError> {
        let connection = command_connection(options, "occupancy connect").await?;
        Ok(Self {
            connection,
            base: format!("{}:{kind}", options.prefix),
            node: options.node.clone(),
            ttl_ms: u64::try_from(node_ttl.as_millis()).unwrap_or(u64::MAX),
            timeout: options.timeout,
        })
    }

    /// Sets this node's counts, in order, and says what each did to the
    /// deployment's totals.
    pub async fn record(&self, writes: &[CountWrite]) -> Result<Recorded, BackendError> {
        let mut recorded = Recorded {
            was_alive: true,
            totals: Vec::with_capacity(writes.len()),
        };
        for chunk in writes.chunks(WRITES_PER_CALL) {
            let mut invocation = RECORD.prepare_invoke();
            invocation.arg(&self.base).arg(&self.node).arg(self.ttl_ms);
            for write in chunk {
                invocation
                    .arg(&write.app)
                    .arg(&write.name)
                    .arg(write.count)
                    .arg(u64::try_from(write.hold_back.as_millis()).unwrap_or(u64::MAX));
            }
            let mut connection = self.connection.clone();
            let reply: Vec<u64> = within(
                self.timeout,
                "occupancy record",
                invocation.invoke_async(&mut connection),
            )
            .await?;
            let Some((alive, pairs)) = reply.split_first() else {
                return Err(BackendError("occupancy record: empty reply".into()));
            };
            recorded.was_alive &= *alive == 1;
            for pair in pairs.chunks_exact(2) {
                let transition = match pair[0] {
                    1 => Transition::Occupied,
                    2 => Transition::Vacated,
                    _ => Transition::None,
                };
                recorded.totals.push((transition, pair[1]));
            }
        }
        Ok(recorded)
    }

    /// Refreshes this node's liveness; returns whether its counts were
    /// still there (when not, write them all again).
    pub async fn refresh(&self) -> Result<bool, BackendError> {
        let mut invocation = REFRESH.prepare_invoke();
        invocation.arg(&self.base).arg(&self.node).arg(self.ttl_ms);
        let mut connection = self.connection.clone();
        let alive: u64 = within(
            self.timeout,
            "occupancy refresh",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        Ok(alive == 1)
    }

    /// Takes the counts of dead nodes out of the totals; returns the
    /// channels that became empty (report them vacated).
    pub async fn sweep(&self) -> Result<Vec<AppChannel>, BackendError> {
        self.run_sweep("").await
    }

    /// Takes this node's own counts out of the totals (at start, after a
    /// restart under the same name, and at a clean stop); returns the
    /// channels that became empty.
    pub async fn forget(&self) -> Result<Vec<AppChannel>, BackendError> {
        self.run_sweep(&self.node).await
    }

    async fn run_sweep(&self, node: &str) -> Result<Vec<AppChannel>, BackendError> {
        let mut invocation = SWEEP.prepare_invoke();
        invocation.arg(&self.base).arg(node);
        let mut connection = self.connection.clone();
        let flat: Vec<String> = within(
            self.timeout,
            "occupancy sweep",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        Ok(pairs(flat))
    }

    /// The held vacated channels whose hold-back is over and that are
    /// still empty; each is returned to one node only.
    pub async fn release(&self) -> Result<Vec<AppChannel>, BackendError> {
        let mut invocation = RELEASE.prepare_invoke();
        invocation.arg(&self.base);
        let mut connection = self.connection.clone();
        let flat: Vec<String> = within(
            self.timeout,
            "occupancy release",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        Ok(pairs(flat))
    }

    fn totals_key(&self, app: &str) -> String {
        format!("{}:{}.{app}", self.base, app.len())
    }

    /// Every channel of `app` with a total above zero whose name starts
    /// with `prefix`, with its total, sorted by name.
    pub async fn list(&self, app: &str, prefix: &str) -> Result<Vec<(String, u64)>, BackendError> {
        let mut connection = self.connection.clone();
        let all: Vec<(String, u64)> = within(
            self.timeout,
            "occupancy list",
            redis::cmd("HGETALL")
                .arg(self.totals_key(app))
                .query_async(&mut connection),
        )
        .await?;
        let mut listed: Vec<(String, u64)> = all
            .into_iter()
            .filter(|(name, total)| *total > 0 && name.starts_with(prefix))
            .collect();
        listed.sort_unstable();
        Ok(listed)
    }

    /// The totals of `names` in `app`, in order (zero for none).
    pub async fn totals(&self, app: &str, names: &[&str]) -> Result<Vec<u64>, BackendError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let totals: Vec<Option<u64>> = within(
            self.timeout,
            "occupancy totals",
            redis::cmd("HMGET")
                .arg(self.totals_key(app))
                .arg(names)
                .query_async(&mut connection),
        )
        .await?;
        Ok(totals.into_iter().map(Option::unwrap_or_default).collect())
    }
}

fn pairs(flat: Vec<String>) -> Vec<AppChannel> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut flat = flat.into_iter();
    while let (Some(app), Some(name)) = (flat.next(), flat.next()) {
        out.push((app, name));
    }
    out
}
