//! A real Parley server started in-process on 127.0.0.1:0 for the
//! generator's tests, and running the generator against it.

// Each test file uses part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use parley_bench::cli::Cli;
use parley_bench::report::Report;
use parley_server::config::{NamespaceConfig, Overrides};
use parley_server::{Config, Server};
use tokio::sync::oneshot;

/// The app secret the server and the generator share.
pub const SECRET: &str = "bench-test-secret-0123456789";
/// The server HTTP API key.
pub const API_KEY: &str = "bench-test-api-key";

/// The app key, for the Pusher protocol.
pub const APP_KEY: &str = "bench-test-key";

/// A server with namespaces `bench` (publishing allowed, no history),
/// `room` (presence), `chat` (persisted), `docs` (live documents that
/// clients write) and `recovery` (history kept in memory), and the Pusher
/// protocol; no per-connection command limit to speak of.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), parley_server::ServerError>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with the namespaces every scenario needs.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`TestServer::start`], with the configuration adjusted by `adjust`
    /// (a cluster's broker, say).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env: HashMap<&str, &str> = HashMap::from([
            ("PARLEY_APP_ID", "bench"),
            ("PARLEY_APP_SECRET", SECRET),
            ("PARLEY_API_KEY", API_KEY),
            ("PARLEY_APP_KEY", APP_KEY),
        ]);
        let overrides = Overrides {
            data_dir: Some(dir.path().to_owned()),
            ..Overrides::default()
        };
        let (mut config, _) = Config::load(
            None,
            |name| env.get(name).map(|v| v.to_string()),
            &overrides,
        )
        .unwrap();
        // As `bench.sh` does: the writers of `chat` and `docs` send past the
        // default 100 commands per second per connection on a fast machine,
        // and the scenarios measure the server, not that limit.
        config.commands_per_second = 1_000_000;
        config.command_burst = 1_000_000;
        config.apps[0].namespaces = BTreeMap::from([
            (
                "bench".to_owned(),
                NamespaceConfig {
                    allow_publish: true,
                    ..NamespaceConfig::default()
                },
            ),
            (
                "room".to_owned(),
                NamespaceConfig {
                    presence: true,
                    ..NamespaceConfig::default()
                },
            ),
            (
                "chat".to_owned(),
                NamespaceConfig {
                    persist: true,
                    ..NamespaceConfig::default()
                },
            ),
            (
                "docs".to_owned(),
                NamespaceConfig {
                    persist: true,
                    documents: true,
                    allow_publish: true,
                    document_rate: None,
                    ..NamespaceConfig::default()
                },
            ),
            (
                "recovery".to_owned(),
                NamespaceConfig {
                    history_size: 100,
                    history_ttl: Duration::from_secs(60),
                    ..NamespaceConfig::default()
                },
            ),
        ]);
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// Stops the server, which must end cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }

    /// The flags that point the generator at this server, with its
    /// credentials, and at this process as the server's (for CPU and
    /// memory).
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--url".to_owned(),
            format!("http://{}", self.addr),
            "--server-pid".to_owned(),
            std::process::id().to_string(),
        ];
        flags.extend(self.credential_flags());
        flags
    }

    /// The flags of this server's credentials.
    pub fn credential_flags(&self) -> Vec<String> {
        [
            "--app-secret",
            SECRET,
            "--api-key",
            API_KEY,
            "--app-id",
            "bench",
            "--app-key",
            APP_KEY,
        ]
        .map(str::to_owned)
        .into()
    }

    /// Runs `parley-bench <args>` against the servers at `urls` (comma
    /// separated) whose processes are `pids`, with this server's
    /// credentials, in this process.
    pub async fn bench_on(&self, urls: &str, pids: &str, args: &[&str]) -> Report {
        let mut argv = vec!["parley-bench".to_owned()];
        argv.extend(args.iter().map(|arg| (*arg).to_owned()));
        argv.extend(self.credential_flags());
        argv.extend(["--url", urls, "--server-pid", pids].map(str::to_owned));
        let cli = Cli::try_parse_from(argv).unwrap();
        parley_bench::run(cli, 0).await.unwrap()
    }

    /// Runs `parley-bench <args>` against this server, in this process.
    pub async fn bench(&self, args: &[&str]) -> Report {
        let mut argv = vec!["parley-bench".to_owned()];
        argv.extend(args.iter().map(|arg| (*arg).to_owned()));
        argv.extend(self.flags());
        let cli = Cli::try_parse_from(argv).unwrap();
        parley_bench::run(cli, 0).await.unwrap()
    }
}
