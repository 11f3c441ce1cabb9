//! Cluster presence: the core's [`PresenceManager`] over Redis, so every
//! node of a deployment sees one presence per channel.
//!
//! Each change is one Lua script (`presence_scripts.rs`), so concurrent
//! changes of one user on several nodes give exactly one join and one
//! leave. Leases carry their node's name (a [`ClientId`] is only unique
//! within its node) and expire by Redis's clock: a node that dies stops
//! renewing, and the first sweep of any node after the lease ttl drops its
//! leases and reports the leaves, once for the deployment.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_core::{
    BackendError, BoxFuture, ChannelName, ClientId, Expired, Lease, LeaseKey, Member,
    PresenceChange, PresenceConnection, PresenceManager, PresencePage, PresenceStats, SessionAdded,
};
use redis::{Script, Value};

use crate::broker_redis::{RedisOptions, command_connection, within};
use crate::connection::Commands;
use crate::keys::Keys;
use crate::presence_codec::{decode_info, encode_info};
use crate::presence_scripts as scripts;

/// How many due channels one sweep takes at most; the rest wait for the
/// next sweep.
const SWEEP_CHANNELS: usize = 1000;

/// The most members or anonymous viewers one read returns.
const MAX_PAGE: usize = 1 << 20;

/// Presence leases in Redis, shared by every node with the same Redis and
/// prefix.
pub struct RedisPresence {
    connection: Commands,
    keys: Keys,
    /// This node's name, which qualifies its connections' lease keys.
    node: String,
    timeout: Duration,
}

impl RedisPresence {
    /// Connects to the deployment's Redis, so an unreachable one fails the
    /// start.
    pub async fn connect(options: &RedisOptions) -> Result<Self, BackendError> {
        Ok(Self {
            connection: command_connection(options, "presence connect").await?,
            keys: Keys::new(&options.prefix),
            node: options.node.clone(),
            timeout: options.timeout,
        })
    }

    /// The lease's name in Redis: a connection's is qualified by its node.
    fn lease_id(&self, key: &LeaseKey) -> String {
        match key {
            LeaseKey::Client(ClientId { node, sequence }) => {
                format!("c:{}:{node}.{sequence}", self.node)
            }
            LeaseKey::Session(session) => format!("s:{session}"),
        }
    }

    /// Runs a channel script with its keys and the channel's name first,
    /// then `args`.
    async fn run(
        &self,
        script: &Script,
        what: &str,
        app: &str,
        channel: &ChannelName,
        args: &[&[u8]],
    ) -> Result<Value, BackendError> {
        let channel = channel.as_str();
        let mut invocation = script.prepare_invoke();
        for kind in ["presence.h", "presence.e", "presence.u", "presence.a"] {
            invocation.key(self.keys.presence(kind, app, channel));
        }
        invocation
            .key(self.keys.presence_schedule())
            .arg(channel_id(app, channel));
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        within(self.timeout, what, invocation.invoke_async(&mut connection)).await
    }

    async fn add_lease(
        &self,
        app: &str,
        channel: &ChannelName,
        lease: Lease,
        ttl: Duration,
        max_sessions: Option<usize>,
    ) -> Result<SessionAdded, BackendError> {
        let id = self.lease_id(&lease.key);
        let info = encode_info(&lease.info);
        let ttl = millis(ttl).to_string();
        let max = max_sessions.map_or_else(|| "-1".to_owned(), |max| max.to_string());
        let (has_state, state) = match &lease.state {
            Some(state) => (&b"1"[..], &state[..]),
            None => (&b"0"[..], &b""[..]),
        };
        let reply = self
            .run(
                &scripts::ADD,
                "presence add",
                app,
                channel,
                &[
                    id.as_bytes(),
                    lease.user.as_bytes(),
                    &info,
                    has_state,
                    state,
                    ttl.as_bytes(),
                    max.as_bytes(),
                ],
            )
            .await?;
        let (code, member) = coded(reply)?;
        Ok(match (code, member) {
            (1, Some(member)) => SessionAdded::Added(Some(PresenceChange::Joined(member))),
            (2, Some(member)) => SessionAdded::Added(Some(PresenceChange::StateReplaced(member))),
            (3, _) => SessionAdded::Full,
            _ => SessionAdded::Added(None),
        })
    }

    async fn expire_due(&self) -> Result<Vec<Expired>, BackendError> {
        let mut invocation = scripts::DUE.prepare_invoke();
        invocation
            .key(self.keys.presence_schedule())
            .arg(SWEEP_CHANNELS);
        let mut connection = self.connection.clone();
        let due: Vec<String> = within(
            self.timeout,
            "presence due",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        let mut expired = Vec::new();
        for id in due {
            let Some((app, channel)) = parse_channel_id(&id) else {
                tracing::warn!(id, "unreadable channel in the presence schedule; skipped");
                continue;
            };
            let reply = match self
                .run(&scripts::EXPIRE, "presence expire", &app, &channel, &[])
                .await
            {
                Ok(reply) => reply,
                // The leases dropped so far are gone from Redis: report
                // their leaves now, the rest at the next sweep.
                Err(error) if !expired.is_empty() => {
                    tracing::warn!(%error, "presence sweep cut short");
                    break;
                }
                Err(error) => return Err(error),
            };
            let (leases, left) = match reply {
                Value::Array(mut parts) if parts.len() == 2 => {
                    let left = parts.pop().map(strings).unwrap_or_default();
                    (int(parts.pop()), left)
                }
                other => return Err(malformed("expire", &other)),
            };
            if leases > 0 {
                expired.push(Expired {
                    app: Arc::from(app),
                    channel,
                    left: left.into_iter().map(Arc::from).collect(),
                    leases: leases as usize,
                });
            }
        }
        Ok(expired)
    }
}

/// A channel's name in the schedule: `<app length>.<app>:<channel>`.
fn channel_id(app: &str, channel: &str) -> String {
    format!("{}.{app}:{channel}", app.len())
}

fn parse_channel_id(id: &str) -> Option<(String, ChannelName)> {
    let (length, rest) = id.split_once('.')?;
    let length: usize = length.parse().ok()?;
    let app = rest.get(..length)?;
    let channel = rest.get(length..)?.strip_prefix(':')?;
    Some((app.to_owned(), ChannelName::new(channel).ok()?))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn malformed(what: &str, value: &Value) -> BackendError {
    BackendError(format!("redis presence {what}: unexpected reply {value:?}"))
}

fn int(value: Option<Value>) -> i64 {
    match value {
        Some(Value::Int(n)) => n,
        _ => 0,
    }
}

fn bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(bytes) => Some(Bytes::from(bytes)),
        Value::SimpleString(text) => Some(Bytes::from(text)),
        _ => None,
    }
}

fn text(value: Value) -> Option<Arc<str>> {
    bytes(value).and_then(|bytes| std::str::from_utf8(&bytes).ok().map(Arc::from))
}

fn strings(value: Value) -> Vec<String> {
    match value {
        Value::Array(values) => values
            .into_iter()
            .filter_map(text)
            .map(|text| text.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// A state as the encoders copy it: UTF-8 or nothing.
fn state(value: Value) -> Option<Bytes> {
    bytes(value).filter(|bytes| std::str::from_utf8(bytes).is_ok())
}

/// `{state, "<joined> <last seen>"}`.
fn connection(value: Value) -> Option<PresenceConnection> {
    let Value::Array(parts) = value else {
        return None;
    };
    let mut parts = parts.into_iter();
    let state = parts.next().and_then(state);
    let times = parts.next().and_then(text)?;
    let (joined, seen) = times.split_once(' ')?;
    Some(PresenceConnection {
        state,
        joined_at: joined.parse().ok()?,
        last_seen: seen.parse().ok()?,
    })
}

/// `{user, info, state, {connection, ...}}`.
fn member(value: Value) -> Option<Member> {
    let Value::Array(parts) = value else {
        return None;
    };
    let mut parts = parts.into_iter();
    let user = parts.next().and_then(text)?;
    let info = parts
        .next()
        .and_then(bytes)
        .map(decode_info)
        .unwrap_or_default();
    let state = parts.next().and_then(state);
    let connections: Vec<PresenceConnection> = match parts.next() {
        Some(Value::Array(connections)) => connections.into_iter().filter_map(connection).collect(),
        _ => Vec::new(),
    };
    Some(Member {
        user,
        info: Arc::new(info),
        state,
        joined_at: connections
            .iter()
            .map(|connection| connection.joined_at)
            .min()
            .unwrap_or_default(),
        connections,
    })
}

/// `{code}` or `{code, member}`.
fn coded(value: Value) -> Result<(i64, Option<Member>), BackendError> {
    match value {
        Value::Array(parts) => {
            let mut parts = parts.into_iter();
            let code = int(parts.next());
            Ok((code, parts.next().and_then(member)))
        }
        other => Err(malformed("reply", &other)),
    }
}

impl PresenceManager for RedisPresence {
    fn add<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<PresenceChange>, BackendError>> {
        Box::pin(async move {
            match self.add_lease(app, channel, lease, ttl, None).await? {
                SessionAdded::Added(change) => Ok(change),
                SessionAdded::Full => Ok(None),
            }
        })
    }

    fn add_session<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        lease: Lease,
        ttl: Duration,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<SessionAdded, BackendError>> {
        Box::pin(self.add_lease(app, channel, lease, ttl, Some(max_sessions)))
    }

    fn remove<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
    ) -> BoxFuture<'a, Result<Option<Arc<str>>, BackendError>> {
        Box::pin(async move {
            let id = self.lease_id(key);
            let reply = self
                .run(
                    &scripts::REMOVE,
                    "presence remove",
                    app,
                    channel,
                    &[id.as_bytes()],
                )
                .await?;
            match reply {
                Value::Array(parts) => Ok(parts.into_iter().nth(1).and_then(text)),
                other => Err(malformed("remove", &other)),
            }
        })
    }

    fn renew<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let id = self.lease_id(key);
            let ttl = millis(ttl).to_string();
            let reply = self
                .run(
                    &scripts::RENEW,
                    "presence renew",
                    app,
                    channel,
                    &[id.as_bytes(), ttl.as_bytes()],
                )
                .await?;
            Ok(int(Some(reply)) == 1)
        })
    }

    fn set_state<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        key: &'a LeaseKey,
        state: Bytes,
    ) -> BoxFuture<'a, Result<Option<Member>, BackendError>> {
        Box::pin(async move {
            let id = self.lease_id(key);
            let reply = self
                .run(
                    &scripts::SET_STATE,
                    "presence set state",
                    app,
                    channel,
                    &[id.as_bytes(), &state],
                )
                .await?;
            Ok(coded(reply)?.1)
        })
    }

    fn anonymous<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<PresenceConnection>, BackendError>> {
        Box::pin(async move {
            let limit = limit.min(MAX_PAGE).to_string();
            let reply = self
                .run(
                    &scripts::ANONYMOUS,
                    "presence anonymous",
                    app,
                    channel,
                    &[limit.as_bytes()],
                )
                .await?;
            match reply {
                Value::Array(viewers) => Ok(viewers.into_iter().filter_map(connection).collect()),
                other => Err(malformed("anonymous", &other)),
            }
        })
    }

    fn members<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<PresencePage, BackendError>> {
        Box::pin(async move {
            // Redis takes a count it can parse as an integer: a page of a
            // million members is more than any caller asks for.
            let limit = limit.min(MAX_PAGE);
            let take = (limit + 1).to_string();
            let reply = self
                .run(
                    &scripts::MEMBERS,
                    "presence members",
                    app,
                    channel,
                    &[after.unwrap_or_default().as_bytes(), take.as_bytes()],
                )
                .await?;
            let Value::Array(values) = reply else {
                return Err(malformed("members", &reply));
            };
            let mut members: Vec<Member> = values.into_iter().filter_map(member).collect();
            let next = if members.len() > limit {
                members.truncate(limit);
                members.last().map(|member| member.user.clone())
            } else {
                None
            };
            Ok(PresencePage { members, next })
        })
    }

    fn stats<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<PresenceStats, BackendError>> {
        Box::pin(async move {
            let reply = self
                .run(&scripts::STATS, "presence stats", app, channel, &[])
                .await?;
            let Value::Array(counts) = reply else {
                return Err(malformed("stats", &reply));
            };
            let mut counts = counts.into_iter();
            let mut next = || usize::try_from(int(counts.next())).unwrap_or(0);
            Ok(PresenceStats {
                num_users: next(),
                num_connections: next(),
                num_anonymous: next(),
            })
        })
    }

    fn expire(&self) -> BoxFuture<'_, Result<Vec<Expired>, BackendError>> {
        Box::pin(self.expire_due())
    }
}

#[cfg(test)]
mod tests {
    use super::{channel_id, parse_channel_id};

    #[test]
    fn a_channel_id_reads_back_whatever_its_colons() {
        for (app, channel) in [("main", "room:a:b"), ("a:b", "c"), ("a", "b:c")] {
            let (read_app, read_channel) = parse_channel_id(&channel_id(app, channel)).unwrap();
            assert_eq!((read_app.as_str(), read_channel.as_str()), (app, channel));
        }
        assert!(parse_channel_id("9.main:x").is_none());
        assert!(parse_channel_id("x").is_none());
    }
}
