//! The Lua scripts that touch a channel's stream. Each runs atomically in
//! Redis, so assigning an offset, keeping the publication and publishing it
//! are one step: no other publication of the channel can come between.

use std::sync::LazyLock;

use redis::Script;

/// Publishes to a channel: creates the stream with the given epoch when it
/// does not exist (dropping any history left from an earlier epoch), takes
/// the next offset, keeps the message in the history (trimmed to the
/// namespace's size; nothing kept at size 0), refreshes the keys' expiry
/// and publishes `<offset> <epoch> <body>` to the topic.
///
/// KEYS: stream hash, history. ARGV: epoch for a new stream, body, history
/// size, history ttl (ms, 0: none), how long an unused stream lives (ms),
/// topic. Returns `{offset, epoch}`.
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local stream, history = KEYS[1], KEYS[2]
if redis.call('HSETNX', stream, 'epoch', ARGV[1]) == 1 then
  redis.call('DEL', history)
end
local offset = redis.call('HINCRBY', stream, 'offset', 1)
local epoch = redis.call('HGET', stream, 'epoch')
local size = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local keep = math.max(tonumber(ARGV[5]), ttl)
redis.call('HSET', stream, 'ttl', ARGV[4])
local id = string.format('%.0f', offset)
local message = id .. ' ' .. epoch .. ' ' .. ARGV[2]
if size > 0 then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('XADD', history, 'MAXLEN', size, id .. '-0',
    'p', message, 't', string.format('%.0f', ms))
  if ttl > 0 then
    redis.call('PEXPIRE', history, ttl)
  else
    redis.call('PEXPIRE', history, keep)
  end
else
  redis.call('DEL', history)
end
redis.call('PEXPIRE', stream, keep)
redis.call('PUBLISH', ARGV[6], message)
return {offset, epoch}
"#,
    )
});

/// Reads a channel's position and the kept messages from an offset on:
/// creates the stream with the given epoch when it does not exist, so the
/// position a client is given names the epoch later publications get.
/// Messages older than the stream's history ttl (as of its latest publish)
/// are left out.
///
/// KEYS: stream hash, history. ARGV: epoch for a new stream, first stream
/// id to read (`<offset>-0`), how many at most (0: none), how long a new
/// stream lives unused (ms). Returns `{epoch, offset, {message, ...}}`.
pub(crate) static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local stream, history = KEYS[1], KEYS[2]
if redis.call('HSETNX', stream, 'epoch', ARGV[1]) == 1 then
  redis.call('DEL', history)
  redis.call('PEXPIRE', stream, ARGV[4])
end
local meta = redis.call('HMGET', stream, 'epoch', 'offset', 'ttl')
local ttl = tonumber(meta[3] or '0')
local limit = tonumber(ARGV[3])
local messages = {}
if limit > 0 then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local rows = redis.call('XRANGE', history, ARGV[2], '+', 'COUNT', limit)
  for _, row in ipairs(rows) do
    local fields = row[2]
    local message, kept = nil, 0
    for i = 1, #fields, 2 do
      if fields[i] == 'p' then
        message = fields[i + 1]
      elseif fields[i] == 't' then
        kept = tonumber(fields[i + 1])
      end
    end
    if message and (ttl == 0 or ms - kept < ttl) then
      table.insert(messages, message)
    end
  end
end
return {meta[1], meta[2] or '0', messages}
"#,
    )
});
