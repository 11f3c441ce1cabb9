//! Configuration: defaults, a TOML file, `PARLEY_*` environment variables
//! and command-line flags, in that order of precedence (later wins).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parley_core::{AppOptions, NodeOptions};
use serde::{Deserialize, Serialize};

use crate::credentials;

mod check;
mod cluster;
mod duration;
mod env_tree;
mod moved_keys;
mod namespace;
mod proxies;
mod uploads;
mod web;
mod webhooks;

pub use check::{MASK, effective_toml};
pub use cluster::{BrokerKind, ClusterConfig};
pub use namespace::{NamespaceConfig, PinPermission, Rate, ReadReceipts};
pub use proxies::TrustedProxies;
pub use uploads::UploadsConfig;
pub use web::{DEMO_NAMESPACE, WebConfig, demo_namespace};
pub use webhooks::{WEBHOOK_EVENTS, WebhookConfig};

/// The whole server configuration, after every source has been applied.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for generated credentials (and, later, the store).
    pub data_dir: PathBuf,
    /// How often the server pings each connection.
    #[serde(serialize_with = "duration::serialize")]
    pub ping_interval: Duration,
    /// How long a connection may stay silent after a ping before it is closed.
    #[serde(serialize_with = "duration::serialize")]
    pub pong_timeout: Duration,
    /// How long a new connection has to send `connect`.
    #[serde(serialize_with = "duration::serialize")]
    pub connect_timeout: Duration,
    /// Whether every app also allows pages served from this machine
    /// (`http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*`);
    /// `None`: when the server listens on a loopback address.
    pub allow_local_origins: Option<bool>,
    /// How long after its token expires a connection may still refresh it.
    #[serde(serialize_with = "duration::serialize")]
    pub token_grace: Duration,
    /// How long one batched write to a connection may take before the
    /// connection is dropped.
    #[serde(serialize_with = "duration::serialize")]
    pub write_timeout: Duration,
    /// How long graceful shutdown waits for connections to close.
    #[serde(serialize_with = "duration::serialize")]
    pub shutdown_timeout: Duration,
    /// Connections this node accepts at once.
    pub max_connections: usize,
    /// Connections the kernel may hold for the server before it accepts
    /// them (the `listen` backlog, capped by `net.core.somaxconn`).
    pub listen_backlog: u32,
    /// The largest frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// The bound of each connection's outbound queue, in bytes.
    pub max_queue_bytes: usize,
    /// Sustained commands per second per connection.
    pub commands_per_second: u32,
    /// Commands a connection may send in a burst above the sustained rate.
    pub command_burst: u32,
    /// How long an unused in-memory channel stream is kept.
    #[serde(serialize_with = "duration::serialize")]
    pub stream_idle_ttl: Duration,
    /// Presence heartbeats (`POST /api/v1/presence/heartbeat`) one client
    /// IP address may send, as `"<count>/<s|min|h>"` (also the burst).
    pub heartbeats_per_ip: Rate,
    /// Reverse proxies whose `X-Forwarded-For` names the client address
    /// for per-address limits.
    pub trusted_proxies: TrustedProxies,
    /// Log format.
    pub log_format: LogFormat,
    /// Where persisted channels are kept: `postgres://…`, or `sqlite:PATH`;
    /// `None` is the SQLite file `parley.db` in the data dir.
    pub database_url: Option<String>,
    /// How long the start waits for the store's first connection before
    /// it fails with the cause.
    #[serde(serialize_with = "duration::serialize")]
    pub database_connect_timeout: Duration,
    /// The apps this node serves; the first is the default app.
    pub apps: Vec<AppConfig>,
    /// File uploads (`[uploads]`); files are kept under the data dir.
    pub uploads: UploadsConfig,
    /// The broker and the deployment's other nodes (`[cluster]`).
    pub cluster: ClusterConfig,
    /// The admin UI and the demo app (`[web]`).
    pub web: WebConfig,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One app's configuration.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app id, used in URLs and API paths.
    pub id: String,
    /// The app's public key (Pusher clients connect with it).
    #[serde(default)]
    pub key: String,
    /// The secret that signs HS256 tokens (and Pusher signatures).
    #[serde(default)]
    pub secret: String,
    /// Keys for the server HTTP API.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// A PEM file with the RSA or EC public key for RS256 or ES256 tokens.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// Browser origins allowed to open WebSockets and call the HTTP API.
    /// `"*"` allows every origin; same-origin requests and requests without
    /// an `Origin` header are always allowed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether tokens without `exp` are accepted (and never expire). Off
    /// by default: such a token, leaked once, is valid forever.
    #[serde(default)]
    pub allow_tokens_without_exp: bool,
    /// Connections one user may hold at once.
    #[serde(default = "default_max_connections_per_user")]
    pub max_connections_per_user: usize,
    /// Channels one connection may subscribe to.
    #[serde(default = "default_max_subscriptions_per_client")]
    pub max_subscriptions_per_client: usize,
    /// Namespaces of this app only; they override the top-level ones.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Options of Pusher-protocol clients of this app.
    #[serde(default)]
    pub pusher: PusherOptions,
    /// The app's webhooks (`[apps.webhooks]`).
    #[serde(default)]
    pub webhooks: WebhookConfig,
}

/// What Pusher-protocol clients of one app may do (`[apps.pusher]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PusherOptions {
    /// Clients may send `client-*` events on private and presence channels.
    pub enable_client_messages: bool,
    /// Client events one connection may send per second; past it the
    /// connection is closed with 4301.
    pub client_events_per_second: u32,
    /// Users a presence channel holds at most.
    pub max_presence_members: usize,
    /// The largest `user_info` of a presence member, in bytes of JSON.
    pub max_user_info_bytes: usize,
    /// The longest presence `user_id`, in bytes.
    pub max_user_id_bytes: usize,
    /// The largest event data a client event or an HTTP API trigger
    /// carries, in bytes.
    pub max_message_bytes: usize,
    /// The path prefix the Pusher HTTP API is reached under, when a proxy
    /// strips it (`/pusher` for `https://host/pusher/apps/...`): the SDKs
    /// sign the path with it.
    pub api_path_prefix: String,
    /// Every connection must sign in (`pusher:signin`) within
    /// `user_authentication_timeout`, or it is closed with 4009.
    pub enable_user_authentication: bool,
    /// How long a connection has to sign in when sign-in is required.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub user_authentication_timeout: Duration,
    /// How long the last event of a `cache-` channel is kept.
    #[serde(
        deserialize_with = "duration::required",
        serialize_with = "duration::serialize"
    )]
    pub cache_ttl: Duration,
    /// Subscribers of channels other than presence ones hear the channel's
    /// subscriber count (`pusher_internal:subscription_count`) when it
    /// changes: Pusher's "subscription counting" app setting.
    pub enable_subscription_count: bool,
}

impl Default for PusherOptions {
    /// Pusher's own limits.
    fn default() -> Self {
        Self {
            enable_client_messages: false,
            client_events_per_second: 10,
            max_presence_members: 100,
            max_user_info_bytes: 1024,
            max_user_id_bytes: 128,
            max_message_bytes: 10 * 1024,
            api_path_prefix: String::new(),
            enable_user_authentication: false,
            user_authentication_timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(30 * 60),
            enable_subscription_count: false,
        }
    }
}

fn default_max_connections_per_user() -> usize {
    AppOptions::default().max_connections_per_user
}

fn default_max_subscriptions_per_client() -> usize {
    AppOptions::default().max_subscriptions_per_client
}

/// The TOML file: every field optional, so it only overrides what it names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "duration::optional")]
    ping_interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    pong_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    connect_timeout: Option<Duration>,
    allow_local_origins: Option<bool>,
    #[serde(default, deserialize_with = "duration::optional")]
    token_grace: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    write_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    shutdown_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration::optional")]
    stream_idle_ttl: Option<Duration>,
    max_connections: Option<usize>,
    listen_backlog: Option<u32>,
    max_frame_bytes: Option<usize>,
    max_queue_bytes: Option<usize>,
    commands_per_second: Option<u32>,
    command_burst: Option<u32>,
    heartbeats_per_ip: Option<Rate>,
    trusted_proxies: Option<TrustedProxies>,
    log_format: Option<LogFormat>,
    database_url: Option<String>,
    #[serde(default, deserialize_with = "duration::optional")]
    database_connect_timeout: Option<Duration>,
    uploads: Option<UploadsConfig>,
    cluster: Option<ClusterConfig>,
    web: Option<WebConfig>,
    #[serde(default)]
    apps: Vec<AppConfig>,
    #[serde(default)]
    namespaces: BTreeMap<String, NamespaceConfig>,
}

/// The file's settings with the `PARLEY__` variables laid over them.
fn read_settings(
    file: Option<&Path>,
    vars: Vec<(String, String)>,
) -> Result<FileConfig, ConfigError> {
    let mut table = toml::Table::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        table = text
            .parse()
            .map_err(|error: toml::de::Error| ConfigError::Parse {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
    }
    let from_env = env_tree::any(&vars);
    env_tree::overlay(&mut table, vars)?;
    toml::Value::Table(table)
        .try_into::<FileConfig>()
        .map_err(|error| {
            let message = moved_keys::with_hint(error.to_string());
            match (file, from_env) {
                (Some(path), false) => ConfigError::Parse {
                    path: path.to_owned(),
                    message,
                },
                (Some(path), true) => ConfigError::Settings {
                    source_desc: format!("{} and the PARLEY__ variables", path.display()),
                    message,
                },
                (None, _) => ConfigError::Settings {
                    source_desc: "the PARLEY__ variables".to_owned(),
                    message,
                },
            }
        })
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment variable holds a bad value.
    #[error("invalid {name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `PARLEY__` variable names a setting that cannot be placed.
    #[error("invalid {name}: {message}")]
    EnvPath {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The file with the `PARLEY__` variables laid over it is not valid.
    #[error("invalid configuration ({source_desc}): {message}")]
    Settings {
        /// Where the settings came from: the file, the variables, or both.
        source_desc: String,
        /// What is wrong.
        message: String,
    },
    /// The settings contradict each other.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// Generated credentials could not be kept in the data dir.
    #[error("cannot keep credentials in {path}: {source}")]
    Credentials {
        /// The credentials file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Command-line overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

impl Default for Config {
    fn default() -> Self {
        let node = NodeOptions::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir: PathBuf::from("./parley-data"),
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            allow_local_origins: None,
            token_grace: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: node.max_connections,
            // Room for a reconnect storm: with tokio's default (1024), the
            // kernel drops the SYNs past it and clients retry a second later.
            listen_backlog: 4096,
            max_frame_bytes: 64 * 1024,
            max_queue_bytes: node.max_queue_bytes,
            commands_per_second: 100,
            command_burst: 200,
            stream_idle_ttl: Duration::from_secs(3600),
            // Ten a second for a whole NAT: at one heartbeat per viewer and
            // channel every 30 s, 300 viewers behind one address.
            heartbeats_per_ip: Rate {
                count: 600,
                period: Duration::from_secs(60),
            },
            trusted_proxies: TrustedProxies::default(),
            log_format: LogFormat::Text,
            database_url: None,
            database_connect_timeout: parley_store::DEFAULT_CONNECT_TIMEOUT,
            apps: Vec::new(),
            uploads: UploadsConfig::default(),
            cluster: ClusterConfig::default(),
            web: WebConfig::default(),
        }
    }
}

impl Config {
    /// Whether apps allow pages served from this machine: as set, or when
    /// the server listens on a loopback address.
    pub fn local_origins_allowed(&self) -> bool {
        self.allow_local_origins
            .unwrap_or_else(|| self.listen.ip().is_loopback())
    }

    /// Loads the configuration: defaults, then `file`, then the named
    /// `PARLEY_*` variables read through `env`, then `overrides`. Missing
    /// app secrets and API keys are generated and kept in the data dir.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<credentials::Generated>), ConfigError> {
        Self::load_with_paths(file, env, Vec::new(), overrides)
    }

    /// [`Config::load`], with the `PARLEY__<PATH>` variables among `vars`
    /// (the process's environment, for `parley serve`) laid over the file
    /// before the named variables apply: any setting of the file can then
    /// come from the environment (see `env_tree`).
    pub fn load_with_paths(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        vars: Vec<(String, String)>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<credentials::Generated>), ConfigError> {
        Self::assemble(file, env, vars, overrides, credentials::fill_missing)
    }

    /// [`Config::load_with_paths`] without writing anything: credentials a
    /// first start would generate and keep in the data dir are generated
    /// and forgotten (`parley config check`). The list names the apps
    /// whose credentials a start would generate.
    pub fn check_with_paths(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        vars: Vec<(String, String)>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<credentials::Generated>), ConfigError> {
        Self::assemble(file, env, vars, overrides, credentials::preview_missing)
    }

    /// Every source in order, then the credentials (`fill` says whether
    /// they are kept), then validation: the one way a configuration is
    /// built, for a start and for a check alike.
    fn assemble(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        vars: Vec<(String, String)>,
        overrides: &Overrides,
        fill: impl FnOnce(&Path, &mut [AppConfig]) -> Result<Vec<credentials::Generated>, ConfigError>,
    ) -> Result<(Self, Vec<credentials::Generated>), ConfigError> {
        let mut config = Config::default();
        let mut global_namespaces = BTreeMap::new();
        if file.is_some() || env_tree::any(&vars) {
            let parsed = read_settings(file, vars)?;
            global_namespaces = parsed.namespaces.clone();
            config.apply_file(parsed);
        }
        config.apply_env(&env)?;
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(data_dir) = &overrides.data_dir {
            config.data_dir = data_dir.clone();
        }
        if let Some(log_format) = overrides.log_format {
            config.log_format = log_format;
        }
        for app in &mut config.apps {
            for (name, namespace) in &global_namespaces {
                app.namespaces
                    .entry(name.clone())
                    .or_insert_with(|| namespace.clone());
            }
        }
        if config.web.demo {
            config.enable_demo();
        }
        let generated = fill(&config.data_dir, &mut config.apps)?;
        config.validate()?;
        Ok((config, generated))
    }

    fn apply_file(&mut self, file: FileConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(value) = file.$field { self.$field = value; } )* };
        }
        take!(
            listen,
            data_dir,
            ping_interval,
            pong_timeout,
            connect_timeout,
            token_grace,
            write_timeout,
            shutdown_timeout,
            stream_idle_ttl,
            database_connect_timeout,
            max_connections,
            listen_backlog,
            max_frame_bytes,
            max_queue_bytes,
            commands_per_second,
            command_burst,
            heartbeats_per_ip,
            trusted_proxies,
            log_format,
            uploads,
            cluster,
            web
        );
        self.database_url = file.database_url;
        if file.allow_local_origins.is_some() {
            self.allow_local_origins = file.allow_local_origins;
        }
        self.apps = file.apps;
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(listen) = env("PARLEY_LISTEN") {
            self.listen = listen.parse().map_err(|error| ConfigError::Env {
                name: "PARLEY_LISTEN",
                message: format!("{listen:?} is not an address such as 127.0.0.1:7070 ({error})"),
            })?;
        }
        if let Some(data_dir) = env("PARLEY_DATA_DIR") {
            self.data_dir = PathBuf::from(data_dir);
        }
        if let Some(url) = env("PARLEY_DATABASE_URL") {
            self.database_url = Some(url);
        }
        self.cluster.apply_env(env)?;
        if let Some(admin) = env("PARLEY_WEB_ADMIN") {
            self.web.admin = env_bool("PARLEY_WEB_ADMIN", &admin)?;
        }
        if let Some(demo) = env("PARLEY_WEB_DEMO") {
            self.web.demo = env_bool("PARLEY_WEB_DEMO", &demo)?;
        }
        if self.apps.is_empty() {
            self.apps.push(AppConfig {
                id: "default".to_owned(),
                max_connections_per_user: default_max_connections_per_user(),
                max_subscriptions_per_client: default_max_subscriptions_per_client(),
                ..AppConfig::default()
            });
        }
        let app = &mut self.apps[0];
        if let Some(id) = env("PARLEY_APP_ID") {
            app.id = id;
        }
        if let Some(key) = env("PARLEY_APP_KEY") {
            app.key = key;
        }
        if let Some(secret) = env("PARLEY_APP_SECRET") {
            app.secret = secret;
        }
        if let Some(api_key) = env("PARLEY_API_KEY") {
            app.api_keys = vec![api_key];
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let durations = [
            ("ping_interval", self.ping_interval),
            ("pong_timeout", self.pong_timeout),
            ("connect_timeout", self.connect_timeout),
            ("write_timeout", self.write_timeout),
            ("database_connect_timeout", self.database_connect_timeout),
        ];
        for (name, duration) in durations {
            if duration.is_zero() {
                return invalid(format!("{name} must be above zero"));
            }
        }
        if self.listen_backlog == 0 {
            return invalid("listen_backlog must be above zero".into());
        }
        if self.max_frame_bytes < 1024 {
            return invalid("max_frame_bytes must be at least 1024".into());
        }
        if self.max_queue_bytes < self.max_frame_bytes {
            return invalid("max_queue_bytes must be at least max_frame_bytes".into());
        }
        if self.commands_per_second == 0 || self.command_burst == 0 {
            return invalid("commands_per_second and command_burst must be above zero".into());
        }
        if let Some(problem) = self.uploads.problem() {
            return invalid(problem);
        }
        if let Some(problem) = self.cluster.problem() {
            return invalid(problem);
        }
        if let Some(problem) = self.web.problem().or_else(|| self.demo_problem()) {
            return invalid(problem);
        }
        let mut ids = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for app in &self.apps {
            if app.id.is_empty()
                || !app
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return invalid(format!(
                    "app id {:?} must be letters, digits, '-' or '_'",
                    app.id
                ));
            }
            if let Some(problem) = app.webhooks.problem() {
                return invalid(format!("app {:?}: {problem}", app.id));
            }
            if !ids.insert(&app.id) {
                return invalid(format!("app id {:?} is used twice", app.id));
            }
            if !keys.insert(&app.key) {
                return invalid(format!("app key of {:?} is used by another app", app.id));
            }
            if app.secret.len() < 16 {
                return invalid(format!(
                    "the secret of app {:?} must be at least 16 characters",
                    app.id
                ));
            }
            if app
                .api_keys
                .iter()
                .any(|key| key.trim().is_empty() || key.trim() != key)
            {
                return invalid(format!(
                    "the API keys of app {:?} must be non-empty and without surrounding spaces",
                    app.id
                ));
            }
            for (name, namespace) in &app.namespaces {
                if let Some(problem) = namespace.problem(self.ping_interval, self.max_queue_bytes) {
                    return invalid(format!("namespace {name:?}: {problem}"));
                }

                if name.is_empty()
                    || name.contains(':')
                    || !name.bytes().all(|b| b.is_ascii_graphic())
                {
                    return invalid(format!("namespace name {name:?} is not valid"));
                }
            }
        }
        Ok(())
    }

    /// How to open the store: its database and the connect timeout.
    pub fn store_options(&self) -> Result<parley_store::StoreOptions, String> {
        let mut options = parley_store::StoreOptions::new(self.database()?);
        options.connect_timeout = self.database_connect_timeout;
        Ok(options)
    }

    /// The store's database.
    pub fn database(&self) -> Result<parley_store::Database, String> {
        match &self.database_url {
            None => Ok(parley_store::Database::Sqlite {
                path: self.data_dir.join("parley.db"),
            }),
            Some(url) => parley_store::Database::from_url(url).map_err(|error| error.to_string()),
        }
    }

    /// The node-wide options of the domain.
    pub fn node_options(&self) -> NodeOptions {
        NodeOptions {
            max_connections: self.max_connections,
            max_queue_bytes: self.max_queue_bytes,
        }
    }
}

/// A boolean environment variable: `true`, `false`, `1` or `0`.
fn env_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ConfigError::Env {
            name,
            message: format!("{other:?} is not true, false, 1 or 0"),
        }),
    }
}

impl AppConfig {
    /// The per-app options of the domain.
    pub fn app_options(&self) -> AppOptions {
        let mut options = AppOptions {
            max_connections_per_user: self.max_connections_per_user,
            max_subscriptions_per_client: self.max_subscriptions_per_client,
            ..AppOptions::default()
        };
        for (name, namespace) in &self.namespaces {
            options
                .namespaces
                .insert(name.clone(), namespace.to_namespace(name));
        }
        options
    }
}

#[cfg(test)]
mod tests;
