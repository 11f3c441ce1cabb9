//! The Redis broker: channel streams shared by every node of a deployment.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_core::{
    BackendError, BoxFuture, Broker, BrokerEventHandler, ChannelName, ClientInfo, HistoryOptions,
    PublicationKind, StreamPosition, StreamSlice,
};
use redis::RedisResult;
use redis::aio::PubSub;

use crate::codec::{self, Body};
use crate::committed::CommittedStreams;
use crate::connection::{Commands, Connector, RedisTls};
use crate::keys::Keys;
use crate::relay::{self, CommitRelay, RELAY_QUEUE};
use crate::scripts;
use crate::subscriber::Subscriptions;

/// How a node reaches its deployment's Redis. Not `Debug`: the URL may
/// hold a password.
#[derive(Clone)]
pub struct RedisOptions {
    /// The Redis URL: `redis://host:port/db`, `rediss://` (TLS), or
    /// `redis+sentinel://host:26379,…/master[/db]` (see `connection.rs`).
    pub url: String,
    /// The files of TLS connections, if the public authorities are not the
    /// ones to trust or Redis asks for a client certificate.
    pub tls: RedisTls,
    /// The prefix of every key and topic, so several deployments can share
    /// one Redis.
    pub prefix: String,
    /// This node's name, for logs.
    pub node: String,
    /// How long a channel's stream lives without publications before it
    /// starts over with a new epoch (at least its history ttl).
    pub stream_idle_ttl: Duration,
    /// How long one Redis command may take before it fails.
    pub timeout: Duration,
}

/// A broker whose streams live in Redis, shared by every node that uses
/// the same Redis and prefix.
///
/// Offsets are assigned in one place, a Lua script in Redis, which also
/// keeps the history and publishes to the channel's topic; each node
/// delivers what its topics bring, in offset order (see `ordering.rs`).
/// A node's own publications reach its subscribers the same way, so the
/// publisher's reply may come before its own push.
pub struct RedisBroker {
    streams: Arc<Streams>,
    subscriptions: Arc<Subscriptions>,
    /// The store's delivery handler, when the node has a store to relay.
    relay: Option<Arc<CommitRelay>>,
    /// The pub/sub connection's task and the relay's, stopped with the
    /// broker.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A broker connected to Redis that does not deliver yet: the node's
/// delivery handler only exists once the node is being built.
pub struct ConnectedRedis {
    streams: Arc<Streams>,
    connector: Connector,
    pubsub: PubSub,
    options: RedisOptions,
}

/// The command side: publishing to and reading channel streams.
pub(crate) struct Streams {
    keys: Keys,
    connection: Commands,
    timeout: Duration,
    /// How long an unused stream lives, in milliseconds.
    idle_ms: u64,
}

impl RedisBroker {
    /// Connects to Redis (the command connection and the pub/sub one), so a
    /// wrong URL or an unreachable Redis fails the start.
    pub async fn connect(options: RedisOptions) -> Result<ConnectedRedis, BackendError> {
        let connector = Connector::new(&options)?;
        let connection = connector.commands("connect").await?;
        let pubsub = connector.pubsub("pub/sub connect").await?;
        let streams = Arc::new(Streams {
            keys: Keys::new(&options.prefix),
            connection,
            timeout: options.timeout,
            idle_ms: millis(options.stream_idle_ttl).max(1000),
        });
        tracing::info!(node = %options.node, prefix = %options.prefix, "connected to redis");
        Ok(ConnectedRedis {
            streams,
            connector,
            pubsub,
            options,
        })
    }
}

impl ConnectedRedis {
    /// Starts delivering the publications of the channels this node
    /// subscribes to, to `handler`. With `committed`, the store's streams,
    /// persisted channels are delivered across nodes too: register
    /// [`RedisBroker::commit_handler`] as the store's delivery handler.
    pub fn start(
        self,
        handler: Arc<dyn BrokerEventHandler>,
        committed: Option<Arc<dyn CommittedStreams>>,
    ) -> RedisBroker {
        let (feed_sender, feed) = tokio::sync::mpsc::channel(RELAY_QUEUE);
        let (outbound_sender, outbound) = tokio::sync::mpsc::channel(RELAY_QUEUE);
        let relay = committed.is_some().then(|| {
            Arc::new(CommitRelay {
                streams: self.streams.clone(),
                feed: feed_sender,
                outbound: outbound_sender,
                handler: handler.clone(),
                metrics: self.connector.metrics().clone(),
            })
        });
        let (sink, stream) = self.pubsub.split();
        let subscriptions = Arc::new(Subscriptions::new(
            self.streams.clone(),
            committed,
            handler,
            self.connector.clone(),
            self.options.timeout,
            self.options.node,
            sink,
        ));
        let mut tasks = vec![tokio::spawn(subscriptions.clone().run(stream, feed))];
        if relay.is_some() {
            tasks.push(tokio::spawn(relay::publish_commits(
                self.streams.clone(),
                outbound,
                self.connector.metrics().clone(),
            )));
        }
        RedisBroker {
            streams: self.streams,
            subscriptions,
            relay,
            tasks,
        }
    }
}

impl RedisBroker {
    /// The handler the store delivers its commits to: it relays each to the
    /// other nodes and hands it to this node's ordered delivery. `None`
    /// when the broker was started without the store's streams.
    pub fn commit_handler(&self) -> Option<Arc<dyn BrokerEventHandler>> {
        self.relay
            .clone()
            .map(|relay| relay as Arc<dyn BrokerEventHandler>)
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Streams {
    /// The pub/sub topic of a channel.
    pub(crate) fn topic(&self, app: &str, channel: &ChannelName) -> String {
        self.keys.topic(app, channel.as_str())
    }

    async fn publish(
        &self,
        app: &str,
        channel: &ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
        history: HistoryOptions,
    ) -> Result<StreamPosition, BackendError> {
        let author = info
            .as_ref()
            .filter(|info| !info.user.is_empty())
            .map(|info| &*info.user);
        let body = codec::encode_body(&Body {
            app,
            channel,
            kind: &PublicationKind::Publication,
            info: info.as_ref(),
            author,
            audience: None,
            data: &data,
        });
        let mut invocation = scripts::PUBLISH.prepare_invoke();
        invocation
            .key(self.keys.stream(app, channel.as_str()))
            .key(self.keys.history(app, channel.as_str()))
            .arg(new_epoch())
            .arg(body)
            .arg(history.size)
            .arg(millis(history.ttl))
            .arg(self.idle_ms)
            .arg(self.topic(app, channel));
        let mut connection = self.connection.clone();
        let (offset, epoch): (u64, String) = within(
            self.timeout,
            "publish",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        Ok(StreamPosition {
            offset,
            epoch: Arc::from(epoch),
        })
    }

    /// Publishes a relayed commit's message to its topic.
    pub(crate) async fn relay(&self, topic: &str, message: &[u8]) -> Result<(), BackendError> {
        let mut connection = self.connection.clone();
        within(
            self.timeout,
            "publish",
            redis::cmd("PUBLISH")
                .arg(topic)
                .arg(message)
                .exec_async(&mut connection),
        )
        .await
    }

    /// The stream's position and its kept publications after `after`, at
    /// most `limit`.
    pub(crate) async fn read(
        &self,
        app: &str,
        channel: &ChannelName,
        after: u64,
        limit: usize,
    ) -> Result<StreamSlice, BackendError> {
        let mut invocation = scripts::READ.prepare_invoke();
        invocation
            .key(self.keys.stream(app, channel.as_str()))
            .key(self.keys.history(app, channel.as_str()))
            .arg(new_epoch())
            .arg(format!("{}-0", after.saturating_add(1)))
            .arg(limit.min(MAX_READ))
            .arg(self.idle_ms);
        let mut connection = self.connection.clone();
        let (epoch, offset, messages): (String, u64, Vec<Vec<u8>>) = within(
            self.timeout,
            "read",
            invocation.invoke_async(&mut connection),
        )
        .await?;
        let publications = messages
            .into_iter()
            .map(|message| {
                codec::decode(Bytes::from(message))
                    .map(|(_, publication)| Arc::new(publication))
                    .map_err(|error| BackendError(error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Complete when nothing after `after` expired, was trimmed or lay
        // past the limit; as for the memory broker.
        let complete = after <= offset && publications.len() as u64 == offset - after;
        Ok(StreamSlice {
            publications,
            position: StreamPosition {
                offset,
                epoch: Arc::from(epoch),
            },
            complete,
        })
    }
}

/// The most publications one read returns; a larger limit reads this many
/// and reports the slice incomplete unless it holds everything.
const MAX_READ: usize = 100_000;

/// Awaits a Redis call for at most `timeout`, turning both its error and
/// the timeout into a [`BackendError`] that names the operation.
pub(crate) async fn within<T>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = RedisResult<T>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(BackendError(format!("redis {what}: {error}"))),
        Err(_) => Err(BackendError(format!(
            "redis {what}: no answer within {timeout:?}"
        ))),
    }
}

/// A command connection to the deployment's Redis (reconnecting by
/// itself, through the [`Connector`], so TLS and Sentinel apply) with
/// `options`' timeouts; an error when Redis cannot be reached within the
/// timeout. `what` names it in the error.
pub(crate) async fn command_connection(
    options: &RedisOptions,
    what: &str,
) -> Result<Commands, BackendError> {
    Connector::new(options)?.commands(what).await
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn new_epoch() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl Broker for RedisBroker {
    fn publish<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        data: Bytes,
        info: Option<ClientInfo>,
        history: HistoryOptions,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        Box::pin(self.streams.publish(app, channel, data, info, history))
    }

    fn recover<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<StreamSlice, BackendError>> {
        Box::pin(
            self.subscriptions
                .read_delivered(app, channel, after, limit),
        )
    }

    fn position<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<StreamPosition, BackendError>> {
        Box::pin(async move {
            let slice = self
                .subscriptions
                .read_delivered(app, channel, 0, 0)
                .await?;
            Ok(slice.position)
        })
    }

    /// With the store's streams to relay, a persisted channel's position
    /// as far as this node delivered it (its reads are cut there, see
    /// `ordering.rs`).
    fn delivered<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Option<StreamPosition>, BackendError>> {
        Box::pin(async move {
            if self.relay.is_none() {
                return Ok(None);
            }
            Ok(Some(self.position(app, channel).await?))
        })
    }

    fn subscribe<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.subscriptions.subscribe(app, channel))
    }

    fn unsubscribe<'a>(
        &'a self,
        app: &'a str,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.subscriptions.unsubscribe(app, channel))
    }
}
