//! The Lua scripts of cluster presence. Every change of a channel's
//! presence is one script, so two nodes adding or removing leases of one
//! user at once produce exactly one join and one leave.
//!
//! A channel's presence is four keys (see `keys.rs`) plus one shared
//! schedule:
//! - the hash `H`: per lease `l:<lease>` (its user, empty for an anonymous
//!   viewer), `s:<lease>` (its state), `t:<lease>` (`<joined> <last seen>`
//!   in ms); per user `k:<user>` (their leases, oldest first, as a
//!   MessagePack list), `i:<user>` (their info, opaque), `m:<user>` (their
//!   merged state); counters `#c` (users' leases), `#a` (anonymous ones),
//!   `#s` (heartbeat sessions);
//! - the sorted set `E`: each lease by the time it expires;
//! - the sorted set `U`: the users, all at score 0, for pages in user order;
//! - the set `A`: the anonymous leases, for the backend's list;
//! - the sorted set `G` (one per deployment): each channel with leases by
//!   the time its first lease expires, so a sweep finds due channels
//!   without scanning.
//!
//! Times are Redis's own clock, so the nodes' clocks need not agree. The
//! keys live twice the longest lease ttl past their last write, so a
//! deployment that stopped leaves nothing behind.
//!
//! Every channel script takes KEYS `H, E, U, A, G` and the channel's name
//! in `G` as `ARGV[1]`.

use std::sync::LazyLock;

use redis::Script;

/// Helpers every channel script starts with.
const PRELUDE: &str = r#"
local H, E, U, A, G = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local CH = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n) return string.format('%.0f', n) end
local function leases_of(user)
  local packed = redis.call('HGET', H, 'k:' .. user)
  if packed then return cmsgpack.unpack(packed) end
  return {}
end
-- A member as readers see it: {user, info, state, {{state, times}, ...}}.
local function view(user)
  local connections = {}
  for i, lease in ipairs(leases_of(user)) do
    local fields = redis.call('HMGET', H, 's:' .. lease, 't:' .. lease)
    connections[i] = {fields[1] or false, fields[2] or '0 0'}
  end
  local fields = redis.call('HMGET', H, 'i:' .. user, 'm:' .. user)
  return {user, fields[1] or '', fields[2] or false, connections}
end
-- Keeps the keys alive at least twice `ttl` from now; never shortens.
local function touch(ttl)
  local keep = ttl * 2 + 1000
  for _, key in ipairs({H, E, U, A, G}) do
    local left = redis.call('PTTL', key)
    if left == -1 or (left >= 0 and left < keep) then
      redis.call('PEXPIRE', key, ms(keep))
    end
  end
end
-- Puts the channel in the schedule at its first expiry, or drops it and
-- its keys when no lease is left.
local function reschedule()
  local first = redis.call('ZRANGE', E, 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', G, first[2], CH)
    -- A schedule created here lives as long as the channel's leases.
    if redis.call('PTTL', G) == -1 then
      redis.call('PEXPIRE', G, math.max(redis.call('PTTL', E), 1000))
    end
  else
    redis.call('ZREM', G, CH)
    redis.call('DEL', H, E, U, A)
  end
end
-- Ends a script that added or renewed a lease: the schedule first, then
-- the keys' lifetimes, so keys created on the way get theirs too.
local function finish(ttl, result)
  reschedule()
  touch(ttl)
  return result
end
-- Replaces a lease's state and its member's; returns the member, or
-- {0} for an anonymous lease, whose state is kept but who is no member.
local function set_state(lease, user, state)
  redis.call('HSET', H, 's:' .. lease, state)
  if user == '' then return {0} end
  redis.call('HSET', H, 'm:' .. user, state)
  return {2, view(user)}
end
-- Removes a lease; returns its user when it was their last, else false.
local function drop(lease)
  local user = redis.call('HGET', H, 'l:' .. lease)
  if not user then return false end
  redis.call('HDEL', H, 'l:' .. lease, 's:' .. lease, 't:' .. lease)
  redis.call('ZREM', E, lease)
  if string.sub(lease, 1, 2) == 's:' then redis.call('HINCRBY', H, '#s', -1) end
  if user == '' then
    redis.call('SREM', A, lease)
    redis.call('HINCRBY', H, '#a', -1)
    return false
  end
  redis.call('HINCRBY', H, '#c', -1)
  local kept = {}
  for _, held in ipairs(leases_of(user)) do
    if held ~= lease then table.insert(kept, held) end
  end
  if #kept > 0 then
    redis.call('HSET', H, 'k:' .. user, cmsgpack.pack(kept))
    return false
  end
  redis.call('HDEL', H, 'k:' .. user, 'i:' .. user, 'm:' .. user)
  redis.call('ZREM', U, user)
  return user
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// Adds or renews a lease. ARGV: channel, lease, user, info, `1` when a
/// state comes, the state, ttl (ms), the most heartbeat sessions (`-1`: no
/// cap). Returns `{0}` (nothing to tell), `{1, member}` (joined),
/// `{2, member}` (new state) or `{3}` (too many sessions).
pub(crate) static ADD: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local lease, user, info, state = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
local has_state = ARGV[5] == '1'
local ttl, max = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = now_ms()
local held = redis.call('HGET', H, 'l:' .. lease)
if held then
  redis.call('ZADD', E, ms(now + ttl), lease)
  local times = redis.call('HGET', H, 't:' .. lease) or ''
  local joined = string.match(times, '^(%d+)') or ms(now)
  redis.call('HSET', H, 't:' .. lease, joined .. ' ' .. ms(now))
  -- A renewal repeating the lease's state changes nothing.
  if has_state and redis.call('HGET', H, 's:' .. lease) ~= state then
    return finish(ttl, set_state(lease, held, state))
  end
  return finish(ttl, {0})
end
if string.sub(lease, 1, 2) == 's:' then
  if max >= 0 and tonumber(redis.call('HGET', H, '#s') or '0') >= max then
    return {3}
  end
  redis.call('HINCRBY', H, '#s', 1)
end
redis.call('HSET', H, 'l:' .. lease, user, 't:' .. lease, ms(now) .. ' ' .. ms(now))
if has_state then redis.call('HSET', H, 's:' .. lease, state) end
redis.call('ZADD', E, ms(now + ttl), lease)
if user == '' then
  redis.call('SADD', A, lease)
  redis.call('HINCRBY', H, '#a', 1)
  return finish(ttl, {0})
end
redis.call('HINCRBY', H, '#c', 1)
local leases = leases_of(user)
table.insert(leases, lease)
redis.call('HSET', H, 'k:' .. user, cmsgpack.pack(leases))
if #leases > 1 then
  if has_state then
    redis.call('HSET', H, 'm:' .. user, state)
    return finish(ttl, {2, view(user)})
  end
  return finish(ttl, {0})
end
redis.call('ZADD', U, 0, user)
redis.call('HSET', H, 'i:' .. user, info)
if has_state then redis.call('HSET', H, 'm:' .. user, state) end
return finish(ttl, {1, view(user)})
"#,
    )
});

/// Removes a lease. ARGV: channel, lease. Returns `{existed, user who
/// left or nil}`.
pub(crate) static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local existed = redis.call('HEXISTS', H, 'l:' .. ARGV[2])
local left = drop(ARGV[2])
reschedule()
return {existed, left}
"#,
    )
});

/// Renews a lease. ARGV: channel, lease, ttl (ms). Returns 1, or 0 when
/// the lease is gone.
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local lease, ttl = ARGV[2], tonumber(ARGV[3])
local times = redis.call('HGET', H, 't:' .. lease)
if not times then return 0 end
local now = now_ms()
redis.call('ZADD', E, ms(now + ttl), lease)
local joined = string.match(times, '^(%d+)') or ms(now)
redis.call('HSET', H, 't:' .. lease, joined .. ' ' .. ms(now))
return finish(ttl, 1)
"#,
    )
});

/// Replaces a lease's state. ARGV: channel, lease, state. Returns `{0}`
/// (gone, or anonymous) or `{2, member}`.
pub(crate) static SET_STATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local user = redis.call('HGET', H, 'l:' .. ARGV[2])
if not user then return {0} end
return set_state(ARGV[2], user, ARGV[3])
"#,
    )
});

/// A page of members. ARGV: channel, the cursor (a user; empty: from the
/// start), how many at most. Returns the members.
pub(crate) static MEMBERS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local users = redis.call('ZRANGEBYLEX', U, from, '+', 'LIMIT', 0, tonumber(ARGV[3]))
local members = {}
for i, user in ipairs(users) do members[i] = view(user) end
return members
"#,
    )
});

/// Some anonymous viewers. ARGV: channel, how many at most. Returns
/// `{{state, times}, ...}`.
pub(crate) static ANONYMOUS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local viewers = {}
for i, lease in ipairs(redis.call('SRANDMEMBER', A, tonumber(ARGV[2]))) do
  local fields = redis.call('HMGET', H, 's:' .. lease, 't:' .. lease)
  viewers[i] = {fields[1] or false, fields[2] or '0 0'}
end
return viewers
"#,
    )
});

/// The counts. ARGV: channel. Returns `{users, users' leases, anonymous}`.
pub(crate) static STATS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local counts = redis.call('HMGET', H, '#c', '#a')
return {redis.call('ZCARD', U), tonumber(counts[1] or '0'), tonumber(counts[2] or '0')}
"#,
    )
});

/// Drops a channel's expired leases, a thousand at most (the rest stay due
/// for the next sweep). ARGV: channel. Returns `{leases dropped, {users
/// who left}}`; a second node sweeping the same channel at once finds
/// nothing left to drop.
pub(crate) static EXPIRE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local due = redis.call('ZRANGEBYSCORE', E, '-inf', ms(now_ms()), 'LIMIT', 0, 1000)
local left = {}
for _, lease in ipairs(due) do
  local user = drop(lease)
  if user then table.insert(left, user) end
end
reschedule()
return {#due, left}
"#,
    )
});

/// The channels with a lease due. KEYS: `G`. ARGV: how many at most.
pub(crate) static DUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now),
  'LIMIT', 0, tonumber(ARGV[1]))
"#,
    )
});
