//! User status across a deployment: the core's
//! [`SharedStatus`](parley_core::SharedStatus) over Redis.
//!
//! Each user has a hash (`Keys::status`) with a field per node they are
//! connected to (`n:<node>` → `<change number> <0|1>`), their away flag and
//! when they were last seen. A user is online when a node that holds them
//! is alive, that is, still in the node registry: a node killed without a
//! word stops refreshing its entry, and once it expired its users no
//! longer count. One script per change reads the status before and after,
//! so exactly one node reports each change of the deployment's status.
//!
//! Each node also keeps the set of its connected users per app, and the
//! app's set of nodes that hold any, so that a sweep can find a dead
//! node's users and take them offline (see [`RedisStatus::sweep`]).

use std::sync::LazyLock;
use std::time::Duration;

use parley_core::{BackendError, BoxFuture, SharedStatus, Status, UserStatus};
use redis::{Script, Value};

use crate::broker_redis::{RedisOptions, command_connection, within};
use crate::connection::Commands;
use crate::keys::Keys;

/// How long a user's status is kept after its last change (a week, as a
/// single node keeps offline users' `last_seen`).
const RETENTION_SECS: u64 = 7 * 24 * 3600;

/// How many of a dead node's users one sweep looks at.
const SWEEP_USERS: usize = 500;

/// KEYS: the user's status hash, the app's set of nodes holding users.
/// ARGV: the registry's key prefix, the prefix of the app's per-node user
/// sets, this node, the user, the operation (`conn`, `away` or `get`),
/// then for `conn` the change number and `1`/`0` (connected or not), for
/// `away` `1`/`0`; last the retention in seconds. Returns `{status, last
/// seen or nil, changed}`; a `get` that finds the user's last live node
/// dead reports that change.
static STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local K, HOLDERS = KEYS[1], KEYS[2]
local NODES, USERS, SELF, USER, OP = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local RETAIN = ARGV[#ARGV]
local function now_secs() return tonumber(redis.call('TIME')[1]) end
-- The user's status, dropping nodes that left the registry; the third
-- value says whether one was dropped.
local function status()
  local online, dropped = 0, false
  local fields = redis.call('HGETALL', K)
  local away, seen = '0', false
  for i = 1, #fields, 2 do
    local field, value = fields[i], fields[i + 1]
    if field == 'away' then away = value
    elseif field == 'seen' then seen = value
    elseif string.sub(field, 1, 2) == 'n:' then
      local node = string.sub(field, 3)
      if string.sub(value, -2) == ' 1' then
        if node == SELF or redis.call('EXISTS', NODES .. node) == 1 then
          online = online + 1
        else
          -- A dead node's users are gone since it died: about now.
          redis.call('HDEL', K, field)
          redis.call('SREM', USERS .. node, USER)
          dropped = true
          seen = tostring(now_secs())
          redis.call('HSET', K, 'seen', seen)
        end
      end
    end
  end
  if online == 0 then return {'offline', seen, dropped} end
  if away == '1' then return {'away', false, dropped} end
  return {'online', false, dropped}
end
local before = status()
if OP == 'get' then
  local changed = 0
  if before[3] and before[1] == 'offline' then changed = 1 end
  return {before[1], before[2], changed}
end
if OP == 'conn' then
  local version, connected = tonumber(ARGV[6]), ARGV[7]
  local kept = redis.call('HGET', K, 'n:' .. SELF)
  if kept and tonumber(string.match(kept, '^(%d+)')) >= version then
    return {before[1], before[2], 0}
  end
  redis.call('HSET', K, 'n:' .. SELF, ARGV[6] .. ' ' .. connected)
  if connected == '1' then
    redis.call('SADD', USERS .. SELF, USER)
    redis.call('EXPIRE', USERS .. SELF, RETAIN)
    redis.call('SADD', HOLDERS, SELF)
    redis.call('EXPIRE', HOLDERS, RETAIN)
    if before[1] == 'offline' then redis.call('HSET', K, 'away', '0') end
  else
    redis.call('SREM', USERS .. SELF, USER)
  end
elseif OP == 'away' then
  if before[1] ~= 'offline' then redis.call('HSET', K, 'away', ARGV[6]) end
end
local after = status()
if after[1] == 'offline' and before[1] ~= 'offline' then
  after[2] = tostring(now_secs())
  redis.call('HSET', K, 'seen', after[2])
end
redis.call('EXPIRE', K, RETAIN)
local changed = 0
if after[1] ~= before[1] or (before[3] and before[1] == 'offline') then changed = 1 end
return {after[1], after[2], changed}
"#,
    )
});

/// User status in Redis, shared by every node with the same Redis and
/// prefix.
pub struct RedisStatus {
    connection: Commands,
    keys: Keys,
    node: String,
    timeout: Duration,
}

impl RedisStatus {
    /// Connects to the deployment's Redis.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        Ok(Self {
            connection: command_connection(options, "status connect").await?,
            keys: Keys::new(&options.prefix),
            node: options.node.clone(),
            timeout: options.timeout,
        })
    }

    async fn run(
        &self,
        app: &str,
        user: &str,
        op: &str,
        args: &[&str],
    ) -> Result<(UserStatus, bool), BackendError> {
        let mut invocation = STATUS.prepare_invoke();
        invocation
            .key(self.keys.status(app, user))
            .key(self.keys.status_holders(app))
            .arg(self.keys.node_prefix())
            .arg(self.keys.status_users_prefix(app))
            .arg(&self.node)
            .arg(user)
            .arg(op);
        for arg in args {
            invocation.arg(*arg);
        }
        invocation.arg(RETENTION_SECS);
        let mut connection = self.connection.clone();
        let reply: Value = within(
            self.timeout,
            "user status",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        parse(user, reply)
    }

    /// Takes offline the users of the app's nodes that left the registry
    /// (up to 500 per node per call); returns the statuses that changed,
    /// each found by one node only.
    async fn sweep_dead(&self, app: &str) -> Result<Vec<UserStatus>, BackendError> {
        let mut connection = self.connection.clone();
        let holders = self.keys.status_holders(app);
        let nodes: Vec<String> = within(
            self.timeout,
            "status nodes",
            redis::cmd("SMEMBERS")
                .arg(&holders)
                .query_async(&mut connection),
        )
        .await?;
        let mut changed = Vec::new();
        for node in nodes.into_iter().filter(|node| *node != self.node) {
            let alive: bool = within(
                self.timeout,
                "status node alive",
                redis::cmd("EXISTS")
                    .arg(self.keys.node(&node))
                    .query_async(&mut connection),
            )
            .await?;
            if alive {
                continue;
            }
            let users_key = format!("{}{node}", self.keys.status_users_prefix(app));
            let users: Vec<String> = within(
                self.timeout,
                "status users",
                redis::cmd("SRANDMEMBER")
                    .arg(&users_key)
                    .arg(SWEEP_USERS)
                    .query_async(&mut connection),
            )
            .await?;
            if users.is_empty() {
                within(
                    self.timeout,
                    "status nodes",
                    redis::cmd("SREM")
                        .arg(&holders)
                        .arg(&node)
                        .query_async::<u64>(&mut connection),
                )
                .await?;
                continue;
            }
            for user in users {
                // Reading the status drops the dead node's part of it.
                let (status, went_offline) = self.run(app, &user, "get", &[]).await?;
                if went_offline {
                    changed.push(status);
                }
                within(
                    self.timeout,
                    "status users",
                    redis::cmd("SREM")
                        .arg(&users_key)
                        .arg(&user)
                        .query_async::<u64>(&mut connection),
                )
                .await?;
            }
        }
        Ok(changed)
    }
}

fn parse(user: &str, reply: Value) -> Result<(UserStatus, bool), BackendError> {
    let malformed = || BackendError(format!("redis user status: unexpected reply {reply:?}"));
    let Value::Array(parts) = &reply else {
        return Err(malformed());
    };
    let word = |value: &Value| match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
        _ => None,
    };
    let status = match parts.first().and_then(word).as_deref() {
        Some("online") => Status::Online,
        Some("away") => Status::Away,
        Some("offline") => Status::Offline,
        _ => return Err(malformed()),
    };
    let last_seen = parts
        .get(1)
        .and_then(word)
        .and_then(|seen| seen.parse().ok());
    let changed = matches!(parts.get(2), Some(Value::Int(1)));
    Ok((
        UserStatus {
            user: user.into(),
            status,
            last_seen,
        },
        changed,
    ))
}

impl SharedStatus for RedisStatus {
    fn node_connected<'a>(
        &'a self,
        app: &'a str,
        user: &'a str,
        online: bool,
        version: u64,
    ) -> BoxFuture<'a, Result<Option<UserStatus>, BackendError>> {
        Box::pin(async move {
            let version = version.to_string();
            let connected = if online { "1" } else { "0" };
            let (status, changed) = self.run(app, user, "conn", &[&version, connected]).await?;
            Ok(changed.then_some(status))
        })
    }

    fn set_away<'a>(
        &'a self,
        app: &'a str,
        user: &'a str,
        away: bool,
    ) -> BoxFuture<'a, Result<(UserStatus, bool), BackendError>> {
        let flag: &'static [&'static str] = if away { &["1"] } else { &["0"] };
        Box::pin(self.run(app, user, "away", flag))
    }

    fn get<'a>(
        &'a self,
        app: &'a str,
        users: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(UserStatus, bool)>, BackendError>> {
        Box::pin(async move {
            let asked = users.iter().map(|user| self.run(app, user, "get", &[]));
            futures_util::future::try_join_all(asked).await
        })
    }

    fn sweep<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Vec<UserStatus>, BackendError>> {
        Box::pin(self.sweep_dead(app))
    }

    fn forget_earlier_run<'a>(
        &'a self,
        app: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UserStatus>, BackendError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let users_key = format!("{}{}", self.keys.status_users_prefix(app), self.node);
            let users: Vec<String> = within(
                self.timeout,
                "status users",
                redis::cmd("SMEMBERS")
                    .arg(&users_key)
                    .query_async(&mut connection),
            )
            .await?;
            // Later than anything the earlier run recorded, earlier than
            // anything this run will (its change numbers start from the
            // clock too, later).
            let version = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
                })
                .to_string();
            let mut changed = Vec::new();
            for user in users {
                let (status, went) = self.run(app, &user, "conn", &[&version, "0"]).await?;
                if went {
                    changed.push(status);
                }
            }
            Ok(changed)
        })
    }
}
