//! User status across a deployment: the core's
//! [`SharedStatus`](parley_core::SharedStatus) over Redis.
//!
//! Each user has a hash `<prefix>:status:<app>:<user>` with a field per node
//! they are connected to (`n:<node>` → `<change number> <0|1>`), their away
//! flag and when they were last seen. A user is online when a node that
//! holds them is alive, that is, still in the node registry: a node killed
//! without a word stops refreshing its entry, and once it expired its
//! users no longer count. One script per change reads the status before
//! and after, so exactly one node reports each change of the deployment's
//! status.

use std::sync::LazyLock;
use std::time::Duration;

use parley_core::{BackendError, BoxFuture, SharedStatus, Status, UserStatus};
use redis::aio::ConnectionManager;
use redis::{Script, Value};

use crate::broker_redis::{RedisOptions, within};
use crate::keys::Keys;
use crate::presence::connect;

/// How long a user's status is kept after its last change (a week, as a
/// single node keeps offline users' `last_seen`).
const RETENTION_SECS: u64 = 7 * 24 * 3600;

/// KEYS: the user's status hash. ARGV: the registry's key prefix, this
/// node, the operation (`conn`, `away` or `get`), then for `conn` the
/// change number and `1`/`0` (connected or not), for `away` `1`/`0`, and
/// the retention in seconds. Returns `{status, last seen or nil, changed}`.
static STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local K, NODES, SELF, OP = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local function now_secs() return tonumber(redis.call('TIME')[1]) end
-- The user's status, dropping nodes that left the registry.
local function status()
  local online = 0
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
          seen = tostring(now_secs())
          redis.call('HSET', K, 'seen', seen)
        end
      end
    end
  end
  if online == 0 then return {'offline', seen} end
  if away == '1' then return {'away', false} end
  return {'online', false}
end
local before = status()
if OP == 'get' then return {before[1], before[2], 0} end
if OP == 'conn' then
  local version, connected = tonumber(ARGV[4]), ARGV[5]
  local kept = redis.call('HGET', K, 'n:' .. SELF)
  if kept and tonumber(string.match(kept, '^(%d+)')) >= version then
    return {before[1], before[2], 0}
  end
  redis.call('HSET', K, 'n:' .. SELF, ARGV[4] .. ' ' .. connected)
  if connected == '1' and before[1] == 'offline' then redis.call('HSET', K, 'away', '0') end
elseif OP == 'away' then
  if before[1] ~= 'offline' then redis.call('HSET', K, 'away', ARGV[4]) end
end
local after = status()
if after[1] == 'offline' and before[1] ~= 'offline' then
  after[2] = tostring(now_secs())
  redis.call('HSET', K, 'seen', after[2])
end
redis.call('EXPIRE', K, ARGV[#ARGV])
local changed = 0
if after[1] ~= before[1] then changed = 1 end
return {after[1], after[2], changed}
"#,
    )
});

/// User status in Redis, shared by every node with the same Redis and
/// prefix.
pub struct RedisStatus {
    connection: ConnectionManager,
    keys: Keys,
    node: String,
    timeout: Duration,
}

impl RedisStatus {
    /// Connects to the deployment's Redis.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        Ok(Self {
            connection: connect(options, "status connect").await?,
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
            .arg(self.keys.node_prefix())
            .arg(&self.node)
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
    ) -> BoxFuture<'a, Result<Vec<UserStatus>, BackendError>> {
        Box::pin(async move {
            let asked = users.iter().map(|user| self.run(app, user, "get", &[]));
            let answers = futures_util::future::try_join_all(asked).await?;
            Ok(answers.into_iter().map(|(status, _)| status).collect())
        })
    }
}
