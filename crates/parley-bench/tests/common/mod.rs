//! A Parley server started in-process on 127.0.0.1:0 for the generator
//! to run against, with namespaces for every scenario: `bench` (publishing
//! allowed), `room` (presence) and `chat` (persisted).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use parley_server::config::{NamespaceConfig, Overrides};
use parley_server::{Config, Server};
use tokio::sync::oneshot;

/// The app secret the server and the generator share.
pub const SECRET: &str = "bench-test-secret-0123456789";
/// The server HTTP API key.
pub const API_KEY: &str = "bench-test-api-key";

/// A running server.
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
        let dir = tempfile::tempdir().unwrap();
        let env: HashMap<&str, &str> = HashMap::from([
            ("PARLEY_APP_ID", "bench"),
            ("PARLEY_APP_SECRET", SECRET),
            ("PARLEY_API_KEY", API_KEY),
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
        ]);
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
        [
            "--url".to_owned(),
            format!("http://{}", self.addr),
            "--app-secret".to_owned(),
            SECRET.to_owned(),
            "--api-key".to_owned(),
            API_KEY.to_owned(),
            "--server-pid".to_owned(),
            std::process::id().to_string(),
        ]
        .into()
    }
}
