//! Connecting to the deployment's Redis: the one place the crate's
//! connections are made.
//!
//! `cluster.redis_url` names either one server, `redis://` (or
//! `rediss://`, over TLS), or a master watched by Redis Sentinel,
//! `redis+sentinel://host:26379,host2:26379/mymaster[/db]` (or
//! `rediss+sentinel://`, TLS to the sentinels and the master). With
//! Sentinel every connection, and every reconnection, first asks the
//! sentinels which server is the master, so a node follows a failover: the
//! command connection ([`Commands`]) drops itself on an error that says the
//! server went away or is a replica now, and the next command connects to
//! the master the sentinels name then; the pub/sub connections reconnect
//! through [`Connector::pubsub`] the same way.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use parley_core::BackendError;
use redis::aio::{ConnectionLike, MultiplexedConnection, PubSub};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, ClientTlsConfig, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline,
    RedisError, RedisFuture, RedisResult, TlsCertificates, TlsMode, Value,
};

use crate::broker_redis::{RedisOptions, within};
use crate::metrics::ClusterMetrics;

/// The port of a sentinel whose address gives none.
const SENTINEL_PORT: u16 = 26379;

/// After a failed connect, how long commands fail at once rather than
/// connect again (so a Redis that is away is not asked once per command).
const CONNECT_PAUSE: Duration = Duration::from_millis(100);

/// Files for TLS connections (`rediss://`, `rediss+sentinel://`), in PEM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// The certificate authorities to trust instead of the public ones
    /// built into the binary (webpki-roots).
    pub ca_file: Option<PathBuf>,
    /// A client certificate, for a Redis that asks for one
    /// (`tls-auth-clients`); with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// Whether a Redis URL's connections use TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP: `redis://`, `redis+sentinel://`.
    Plain,
    /// TLS: `rediss://`, `rediss+sentinel://`.
    Tls,
}

/// Checks a Redis URL without connecting: one of the four schemes, and a
/// shape Parley can use. The error never repeats the URL, which may hold
/// a password.
pub fn check_redis_url(url: &str) -> Result<Transport, String> {
    Ok(match parse(url)? {
        Parsed::Server(info) => match info.addr() {
            ConnectionAddr::TcpTls { .. } => Transport::Tls,
            _ => Transport::Plain,
        },
        Parsed::Sentinel(sentinel) if sentinel.tls => Transport::Tls,
        Parsed::Sentinel(_) => Transport::Plain,
    })
}

/// What a URL names.
enum Parsed {
    Server(redis::ConnectionInfo),
    Sentinel(SentinelUrl),
}

/// `redis+sentinel://[user:password@]host[:port][,host[:port]…]/master[/db]`.
struct SentinelUrl {
    tls: bool,
    sentinels: Vec<(String, u16)>,
    master: String,
    /// The master's database and credentials.
    redis: redis::RedisConnectionInfo,
}

fn parse(url: &str) -> Result<Parsed, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(
            "must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://".into(),
        );
    };
    let tls = match scheme {
        "redis" | "rediss" => {
            let info = url
                .into_connection_info()
                .map_err(|_| "is not a valid Redis URL".to_owned())?;
            return Ok(Parsed::Server(info));
        }
        "redis+sentinel" => false,
        "rediss+sentinel" => true,
        _ => {
            return Err(
                "must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://"
                    .into(),
            );
        }
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user_info, hosts) = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => (Some(user_info), hosts),
        None => (None, authority),
    };
    let sentinels = hosts
        .split(',')
        .map(sentinel_address)
        .collect::<Result<Vec<_>, _>>()?;
    let mut path = path.trim_end_matches('/').split('/');
    let master = path.next().unwrap_or_default();
    if master.is_empty() {
        return Err("names no master: write redis+sentinel://host:26379/<master name>".into());
    }
    let db = path.next().unwrap_or("0");
    if path.next().is_some() {
        return Err("has more than /<master name>/<db> in its path".into());
    }
    // The credentials and database read as Redis reads them in a plain URL
    // (percent-decoded).
    let plain = match user_info {
        Some(user_info) => format!("redis://{user_info}@localhost/{db}"),
        None => format!("redis://localhost/{db}"),
    };
    let info = plain
        .as_str()
        .into_connection_info()
        .map_err(|_| "has credentials or a database Redis cannot read".to_owned())?;
    Ok(Parsed::Sentinel(SentinelUrl {
        tls,
        sentinels,
        master: master.to_owned(),
        redis: info.redis_settings().clone(),
    }))
}

/// `host`, `host:port` or `[v6]:port`.
fn sentinel_address(text: &str) -> Result<(String, u16), String> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("sentinel address {text:?} is not host:port"))?;
            (host, after.strip_prefix(':'))
        }
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() {
        return Err("names a sentinel without a host".into());
    }
    let port = match port {
        Some(port) => port
            .parse()
            .map_err(|_| format!("sentinel address {text:?} has no valid port"))?,
        None => SENTINEL_PORT,
    };
    Ok((host.to_owned(), port))
}

/// Makes the node's connections to Redis, to the one server or to the
/// master the sentinels name at the time.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    timeout: Duration,
    node: String,
    metrics: ClusterMetrics,
}

enum Source {
    Server(redis::Client),
    /// Asked for the master at every connect. Behind an async lock: a
    /// lookup needs the client mutably (it caches its sentinel
    /// connections), and lookups are rare.
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl Connector {
    /// A connector for `options`, reading its TLS files; fails on a URL or
    /// file it cannot use.
    pub(crate) fn new(options: &RedisOptions) -> Result<Self, BackendError> {
        let invalid = |message: String| BackendError(format!("invalid redis_url: {message}"));
        let certificates = certificates(&options.tls)?;
        let source = match parse(&options.url).map_err(invalid)? {
            Parsed::Server(info) => Source::Server(
                match certificates {
                    Some(certificates) => redis::Client::build_with_tls(info, certificates),
                    None => redis::Client::open(info),
                }
                .map_err(|error| invalid(error.to_string()))?,
            ),
            Parsed::Sentinel(url) => {
                Source::Sentinel(tokio::sync::Mutex::new(sentinel_client(url, certificates)?))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                source,
                timeout: options.timeout,
                node: options.node.clone(),
                metrics: ClusterMetrics::new(&options.node),
            }),
        })
    }

    /// The node's cluster metrics.
    pub(crate) fn metrics(&self) -> &ClusterMetrics {
        &self.inner.metrics
    }

    /// The client of the server to talk to now.
    async fn client(&self, what: &str) -> Result<redis::Client, BackendError> {
        match &self.inner.source {
            Source::Server(client) => Ok(client.clone()),
            Source::Sentinel(sentinel) => {
                // Boxed: the lookup's future is deep, and would deepen every
                // future that connects.
                let lookup = Box::pin(async { sentinel.lock().await.async_get_client().await });
                within(
                    self.inner.timeout,
                    &format!("{what}: sentinel lookup"),
                    lookup,
                )
                .await
            }
        }
    }

    /// A command connection, connected now so a wrong URL or an unreachable
    /// Redis fails the caller's start.
    pub(crate) async fn commands(&self, what: &str) -> Result<Commands, BackendError> {
        let commands = Commands {
            shared: Arc::new(Shared {
                connector: self.clone(),
                what: what.to_owned(),
                current: Mutex::new((None, 0)),
                connecting: tokio::sync::Mutex::new(None),
            }),
        };
        within(self.inner.timeout, what, commands.connection()).await?;
        Ok(commands)
    }

    /// A new pub/sub connection.
    pub(crate) async fn pubsub(&self, what: &str) -> Result<PubSub, BackendError> {
        let client = self.client(what).await?;
        within(self.inner.timeout, what, client.get_async_pubsub()).await
    }
}

/// Reads the TLS files, if any are set.
fn certificates(tls: &RedisTls) -> Result<Option<TlsCertificates>, BackendError> {
    let read = |path: &Path, key: &str| {
        std::fs::read(path).map_err(|error| {
            BackendError(format!(
                "cannot read cluster.{key} ({}): {error}",
                path.display()
            ))
        })
    };
    let root_cert = match &tls.ca_file {
        Some(path) => Some(read(path, "redis_tls_ca")?),
        None => None,
    };
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read(cert, "redis_tls_cert")?,
            client_key: read(key, "redis_tls_key")?,
        }),
        (None, None) => None,
        _ => {
            return Err(BackendError(
                "cluster.redis_tls_cert and cluster.redis_tls_key go together".into(),
            ));
        }
    };
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

fn sentinel_client(
    url: SentinelUrl,
    certificates: Option<TlsCertificates>,
) -> Result<SentinelClient, BackendError> {
    let invalid = |error: RedisError| BackendError(format!("invalid redis_url: {error}"));
    let sentinels = url.sentinels.into_iter().map(|(host, port)| match url.tls {
        true => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(host, port),
    });
    let mut builder =
        SentinelClientBuilder::new(sentinels, &url.master, SentinelServerType::Master)
            .map_err(invalid)?
            .set_client_to_redis_db(url.redis.db());
    if let Some(username) = url.redis.username() {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = url.redis.password() {
        builder = builder.set_client_to_redis_password(password);
    }
    if url.tls {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
    }
    builder.build().map_err(invalid)
}

/// A command connection that reconnects by itself, through the
/// [`Connector`] (so with Sentinel, to the master of the moment). Clones
/// share one connection, which carries their commands concurrently.
///
/// A command that fails because the server went away, did not answer in
/// time or is a replica now drops the connection; the next command makes
/// a new one. Failed commands, and commands whose caller gave up waiting,
/// count in `parley_cluster_redis_errors_total`.
#[derive(Clone)]
pub(crate) struct Commands {
    shared: Arc<Shared>,
}

struct Shared {
    connector: Connector,
    /// What the connection is for, in logs and errors.
    what: String,
    /// The connection, if there is one, and the number of the last one
    /// made (so a failed command drops only the connection it failed on,
    /// never a newer one).
    current: Mutex<(Option<MultiplexedConnection>, u64)>,
    /// Held while connecting, so concurrent commands make one connection;
    /// holds when the last connect failed, if it did.
    connecting: tokio::sync::Mutex<Option<Instant>>,
}

impl Commands {
    /// The current connection, connecting when there is none.
    async fn connection(&self) -> RedisResult<(MultiplexedConnection, u64)> {
        let shared = &self.shared;
        let held = || match &*shared.current.lock() {
            (Some(connection), number) => Some((connection.clone(), *number)),
            (None, _) => None,
        };
        if let Some(current) = held() {
            return Ok(current);
        }
        let mut failed_at = shared.connecting.lock().await;
        if let Some(current) = held() {
            return Ok(current);
        }
        if failed_at.is_some_and(|at| at.elapsed() < CONNECT_PAUSE) {
            return Err(RedisError::from((
                redis::ErrorKind::Io,
                "not connected",
                "the last connect failed a moment ago".to_owned(),
            )));
        }
        let connected = Box::pin(self.connect()).await;
        match connected {
            Ok(connection) => {
                *failed_at = None;
                let mut current = shared.current.lock();
                current.1 += 1;
                current.0 = Some(connection.clone());
                Ok((connection, current.1))
            }
            Err(error) => {
                *failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let connector = &self.shared.connector.inner;
        let client = self
            .shared
            .connector
            .client(&self.shared.what)
            .await
            .map_err(|error| {
                RedisError::from((redis::ErrorKind::Io, "no master", error.to_string()))
            })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connector.timeout))
            .set_response_timeout(Some(connector.timeout));
        let connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        if matches!(connector.source, Source::Sentinel(_)) {
            tracing::info!(
                node = %connector.node,
                what = %self.shared.what,
                master = ?client.get_connection_info().addr(),
                "connected to the master the sentinels name"
            );
        }
        Ok(connection)
    }

    /// Runs one request on the current connection, dropping the connection
    /// when the request's failure says it is no good any more.
    async fn run<T, F>(&self, request: impl FnOnce(MultiplexedConnection) -> F) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let attempt = Attempt {
            errors: &self.shared.connector.inner.metrics.redis_errors,
            succeeded: false,
        };
        let (connection, number) = self.connection().await?;
        let result = request(connection).await;
        match &result {
            Ok(_) => attempt.succeeded(),
            Err(error) if connection_is_done(error) => {
                let mut current = self.shared.current.lock();
                if current.1 == number {
                    current.0 = None;
                }
            }
            Err(_) => {}
        }
        result
    }
}

/// Whether an error says the connection should be made again: the server
/// is gone or silent, or it is a replica now (a failover demoted it).
fn connection_is_done(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.to_string().contains("READONLY")
}

/// One request under way: counted as a Redis error unless it succeeds,
/// so a request whose caller gave up on it (its timeout) counts too.
struct Attempt<'a> {
    errors: &'a metrics::Counter,
    succeeded: bool,
}

impl Attempt<'_> {
    fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.succeeded {
            self.errors.increment(1);
        }
    }
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(
            self.run(move |mut connection| async move { connection.req_packed_command(cmd).await }),
        )
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.run(move |mut connection| async move {
            connection
                .req_packed_commands(pipeline, offset, count)
                .await
        }))
    }

    fn get_db(&self) -> i64 {
        self.shared
            .current
            .lock()
            .0
            .as_ref()
            .map_or(0, MultiplexedConnection::get_db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_schemes_are_read_and_others_refused() {
        assert_eq!(
            check_redis_url("redis://127.0.0.1:6379/2"),
            Ok(Transport::Plain)
        );
        assert_eq!(
            check_redis_url("rediss://:pw@cache.example:6380"),
            Ok(Transport::Tls)
        );
        assert_eq!(
            check_redis_url("redis+sentinel://10.0.0.1,10.0.0.2:26380/mymaster"),
            Ok(Transport::Plain)
        );
        assert_eq!(
            check_redis_url("rediss+sentinel://:pw@[::1]:26379/mymaster/3"),
            Ok(Transport::Tls)
        );
        for bad in [
            "http://x",
            "127.0.0.1:6379",
            "redis+sentinel://10.0.0.1:26379",
            "redis+sentinel://10.0.0.1:26379/",
            "redis+sentinel://10.0.0.1:port/m",
            "redis+sentinel://:pw@/m",
            "redis+sentinel://h/m/1/2",
            "redis+sentinel://h/m/notadb",
        ] {
            let error = check_redis_url(bad).expect_err(bad);
            assert!(!error.contains("pw"), "{error}");
        }
    }

    #[test]
    fn a_sentinel_url_gives_its_sentinels_master_database_and_credentials() {
        let Ok(Parsed::Sentinel(url)) = parse("redis+sentinel://u:p%40ss@a,b:26380,[::1]:1/main/4")
        else {
            panic!("a sentinel URL");
        };
        assert_eq!(
            url.sentinels,
            [
                ("a".to_owned(), 26379),
                ("b".to_owned(), 26380),
                ("::1".to_owned(), 1)
            ]
        );
        assert_eq!(url.master, "main");
        assert_eq!(url.redis.db(), 4);
        assert_eq!(url.redis.username(), Some("u"));
        assert_eq!(url.redis.password(), Some("p@ss"));
    }
}
