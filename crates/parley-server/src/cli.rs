//! The `parley` command line: `parley serve`, `parley token` and `parley
//! config check`. The load
//! generator is its own binary, `parley-bench`, as `redis-benchmark` is
//! beside `redis-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use parley_core::ChannelName;
use serde_json::value::RawValue;

use crate::auth::{TokenClaims, TokenKeys, unix_now};
use crate::config::{Config, LogFormat, Overrides};
use crate::credentials::Generated;
use crate::server::Server;
use crate::telemetry;

/// Parley: a self-hosted realtime server.
#[derive(Debug, Parser)]
#[command(name = "parley", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Mint a connection or channel token from the server's configuration.
    Token(TokenArgs),
    /// Work with the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file, environment and flags, as `parley
    /// serve` would) and print the effective configuration as TOML, secrets
    /// masked; nothing is written. Exits with 1 and the error when invalid.
    Check(ServeArgs),
}

/// What a configuration is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A start: missing credentials are generated and kept.
    Start,
    /// A check: nothing is written.
    Check,
}

/// Where the configuration comes from.
#[derive(Debug, Args)]
struct ConfigArgs {
    /// A TOML configuration file.
    #[arg(long, env = "PARLEY_CONFIG")]
    config: Option<PathBuf>,
    /// Where generated credentials are kept [default: ./parley-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on [default: 127.0.0.1:7070].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Serve the demo chat at /demo, with guest tokens, for a try-out
    /// (the same as `[web] demo = true`).
    #[arg(long)]
    demo: bool,
    /// Local development: pages on http://localhost:* and
    /// http://127.0.0.1:* may connect whatever the listen address, logs at
    /// debug (unless PARLEY_LOG says otherwise), and the app's API key and a
    /// ready user token are printed at start. Authentication stays on.
    #[arg(long, env = "PARLEY_DEV")]
    dev: bool,
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The user id (`sub`).
    #[arg(long)]
    user: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Avatar URL.
    #[arg(long)]
    avatar: Option<String>,
    /// Roles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<String>,
    /// Application data about the user, a JSON object.
    #[arg(long)]
    info: Option<String>,
    /// The app whose secret signs the token [default: the first app].
    #[arg(long)]
    app: Option<String>,
    /// Lifetime, such as 5m, 2h or 7d.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Mint a channel token for this channel instead of a connection token.
    #[arg(long)]
    channel: Option<String>,
    /// Channels to subscribe to at connect, comma-separated.
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(args) => serve(args),
            Command::Token(args) => token(args),
            Command::Config(ConfigCommand::Check(args)) => check(args),
        }
    }
}

/// Loads the configuration; `demo` (`--demo`) turns the demo on, over the
/// file and `PARLEY_WEB_DEMO`.
fn load(
    args: &ConfigArgs,
    overrides: Overrides,
    demo: bool,
    purpose: Purpose,
) -> Result<(Config, Vec<Generated>), String> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..overrides
    };
    // Every variable, for the `PARLEY__<PATH>` ones; a name or value that
    // is not UTF-8 cannot be one of ours.
    let vars = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let env = |name: &str| match name {
        "PARLEY_WEB_DEMO" if demo => Some("true".to_owned()),
        _ => std::env::var(name).ok(),
    };
    let file = args.config.as_deref();
    match purpose {
        Purpose::Start => Config::load_with_paths(file, env, vars, &overrides),
        Purpose::Check => Config::check_with_paths(file, env, vars, &overrides),
    }
    .map_err(|error| error.to_string())
}

/// The flags of `serve` over the configuration.
fn serve_overrides(args: &ServeArgs) -> Overrides {
    Overrides {
        listen: args.listen,
        log_format: args.log_format,
        data_dir: None,
    }
}

/// What `--dev` changes in the configuration: a page served by a local
/// dev server (Vite, Next.js, ...) on any port may connect, even when
/// listening on 0.0.0.0 in a container.
fn apply_dev(config: &mut Config) {
    config.allow_local_origins = Some(true);
}

fn serve(args: ServeArgs) -> ExitCode {
    let overrides = serve_overrides(&args);
    let (mut config, generated) = match load(&args.config, overrides, args.demo, Purpose::Start) {
        Ok(loaded) => loaded,
        Err(error) => {
            complain(&error.to_string());
            return ExitCode::from(2);
        }
    };
    let default_log_level = if args.dev {
        apply_dev(&mut config);
        "debug"
    } else {
        "info"
    };
    if let Err(error) = telemetry::init_logging_at(config.log_format, default_log_level) {
        complain(&format!("cannot start the log writer: {error}"));
        return ExitCode::FAILURE;
    }
    raise_open_files(config.max_connections);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            complain(&format!("cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let mut hint = String::from("parley token --user 42 --name Ann");
    if let Some(path) = &args.config.config {
        hint.push_str(&format!(" --config {}", path.display()));
    }
    if let Some(path) = &args.config.data_dir {
        hint.push_str(&format!(" --data-dir {}", path.display()));
    }
    let dev = args.dev.then(|| dev_credentials(&config));
    let served = runtime.block_on(serve_async(config, generated, hint, dev));
    // The last lines ("stopped") are still queued for the log's thread.
    telemetry::flush_logs(LOG_FLUSH_TIMEOUT);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            complain(&error);
            ExitCode::FAILURE
        }
    }
}

async fn serve_async(
    config: Config,
    generated: Vec<Generated>,
    hint: String,
    dev: Option<Vec<String>>,
) -> Result<(), String> {
    let server = Server::new(config)
        .await
        .map_err(|error| error.to_string())?;
    let config = &server.state().config;
    let listener = crate::listener::bind(config.listen, config.listen_backlog)
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    for generated in &generated {
        say(format!(
            "Generated credentials for app {:?} in {}.",
            generated.app,
            generated.path.display()
        ));
        if let Some(api_key) = &generated.api_key {
            say(format!("HTTP API key: {api_key}"));
        }
    }
    say(format!(
        "Parley listening on http://{address} (WebSocket: ws://{address}/ws)"
    ));
    if config.web.admin {
        say(format!(
            "Admin UI: http://{address}/admin (sign in with an API key)"
        ));
    }
    if config.web.demo {
        say(format!("Demo chat: http://{address}/demo"));
    }
    say(format!("Mint a token: {hint}"));
    if let Some(lines) = dev {
        say("Development mode (--dev): pages on http://localhost:* and http://127.0.0.1:* are allowed; logs at debug.".to_owned());
        for line in lines {
            say(line);
        }
    }
    server
        .run(listener, shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

/// How long a stopping server waits for its last log lines to be written.
const LOG_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Tells the operator why the server cannot start or stopped, on standard
/// error. Unlike `eprintln!`, a standard error that cannot be written does
/// not panic.
fn complain(error: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "parley: {error}");
}

/// Tells the operator something on standard output. A closed stdout (the
/// reader went away) must not stop a running server, so errors are ignored.
fn say(line: String) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Raises the soft open-file limit to the hard limit: every connection is a
/// file descriptor. Warns when `max_connections` cannot fit under it.
fn raise_open_files(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(
                open_files = limit,
                "raised the soft open-file limit to the hard limit"
            );
            // Listeners, the data dir and outgoing connections need a few.
            let room = usize::try_from(limit.saturating_sub(100)).unwrap_or(usize::MAX);
            if max_connections > room {
                tracing::warn!(
                    max_connections,
                    open_files = limit,
                    "max_connections is above what the open-file limit allows; connections past it will be refused by the kernel"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// The user id of the token `--dev` prints.
const DEV_USER: &str = "dev";

/// What `--dev` prints for each app: its API key and a day's connection
/// token for the user `dev`, to paste into a client or a `curl`.
fn dev_credentials(config: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for app in &config.apps {
        let key = app.api_keys.first().map_or("(none)", String::as_str);
        lines.push(format!("App {:?}: API key {key}", app.id));
        match TokenKeys::new(&app.secret, None) {
            Ok(keys) => {
                let token = keys.mint(&TokenClaims {
                    sub: DEV_USER.to_owned(),
                    exp: Some(unix_now() + DEV_TOKEN_TTL.as_secs()),
                    name: Some("Dev".to_owned()),
                    avatar: None,
                    roles: Vec::new(),
                    info: None,
                    channels: Vec::new(),
                    channel: None,
                });
                lines.push(format!(
                    "App {:?}: token for user {DEV_USER:?} (24h): {token}",
                    app.id
                ));
            }
            // An app verified by a public key only has no secret to sign
            // with here.
            Err(error) => lines.push(format!("App {:?}: no dev token: {error}", app.id)),
        }
    }
    lines
}

/// How long the token `--dev` prints is valid.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// `parley config check`: 0 and the effective configuration on standard
/// output, or 1 and the error on standard error.
fn check(args: ServeArgs) -> ExitCode {
    let overrides = serve_overrides(&args);
    let checked = load(&args.config, overrides, args.demo, Purpose::Check).and_then(
        |(mut config, generated)| {
            if args.dev {
                apply_dev(&mut config);
            }
            crate::config::effective_toml(&config, &generated)
        },
    );
    match checked {
        Ok(text) => {
            say(text);
            ExitCode::SUCCESS
        }
        Err(error) => {
            complain(&error);
            ExitCode::FAILURE
        }
    }
}

fn token(args: TokenArgs) -> ExitCode {
    match mint(&args) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("parley: {error}");
            ExitCode::from(2)
        }
    }
}

fn mint(args: &TokenArgs) -> Result<String, String> {
    if args.user.is_empty() {
        return Err("--user must not be empty".into());
    }
    for channel in args.channel.iter().chain(&args.channels) {
        ChannelName::new(channel).map_err(|error| format!("channel {channel:?}: {error}"))?;
    }
    let (config, generated) = load(&args.config, Overrides::default(), false, Purpose::Start)?;
    for generated in &generated {
        eprintln!(
            "Generated credentials for app {:?} in {}.",
            generated.app,
            generated.path.display()
        );
    }
    let app = match &args.app {
        None => config.apps.first(),
        Some(id) => config.apps.iter().find(|app| &app.id == id),
    }
    .ok_or_else(|| {
        format!(
            "no app {:?} in the configuration",
            args.app.as_deref().unwrap_or("")
        )
    })?;
    let info = match &args.info {
        None => None,
        Some(text) => {
            let raw = RawValue::from_string(text.clone())
                .map_err(|error| format!("--info is not JSON: {error}"))?;
            if !raw.get().trim_start().starts_with('{') {
                return Err("--info must be a JSON object".into());
            }
            Some(raw)
        }
    };
    let keys = TokenKeys::new(&app.secret, None)?;
    Ok(keys.mint(&TokenClaims {
        sub: args.user.clone(),
        exp: Some(unix_now() + args.ttl.as_secs()),
        name: args.name.clone(),
        avatar: args.avatar.clone(),
        roles: args.roles.clone(),
        info,
        channels: args.channels.clone(),
        channel: args.channel.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_generator_is_not_a_subcommand() {
        // `parley-bench` is its own binary; the server knows only its own
        // commands.
        assert!(Cli::try_parse_from(["parley", "bench", "fanout"]).is_err());
        assert!(Cli::try_parse_from(["parley", "token", "--user", "42"]).is_ok());
    }
}
