//! Redis servers of a test's own, for what the shared Redis on 6379 cannot
//! show: TLS, Sentinel, failovers. Each is a `redis-server` child process
//! on a free port with a temporary directory, killed when dropped. The
//! binaries must be installed (Debian's `redis-server` package has TLS and
//! Sentinel; `openssl` makes the certificates).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::WAIT;

/// The master name the test sentinels watch.
pub const MASTER: &str = "mymaster";

/// A `redis-server` (or sentinel) started by a test.
pub struct RedisProcess {
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

impl RedisProcess {
    /// A plain Redis.
    pub async fn start() -> Self {
        Self::spawn(server_args).await
    }

    /// A Redis that speaks TLS only, with `certificates`; with
    /// `client_certificates`, it asks clients for a certificate too.
    pub async fn tls(certificates: &Certificates, client_certificates: bool) -> Self {
        Self::spawn(|dir, port| {
            let mut args = server_args(dir, 0);
            let auth = if client_certificates { "yes" } else { "no" };
            args.extend(
                [
                    "--tls-port",
                    &port.to_string(),
                    "--tls-cert-file",
                    path(&certificates.server_cert),
                    "--tls-key-file",
                    path(&certificates.server_key),
                    "--tls-ca-cert-file",
                    path(&certificates.ca),
                    "--tls-auth-clients",
                    auth,
                ]
                .map(str::to_owned),
            );
            args
        })
        .await
    }

    /// A replica of `master`.
    pub async fn replica_of(master: &RedisProcess) -> Self {
        Self::spawn(|dir, port| {
            let mut args = server_args(dir, port);
            args.extend(["--replicaof", "127.0.0.1", &master.port.to_string()].map(str::to_owned));
            args
        })
        .await
    }

    /// A sentinel watching `master` as [`MASTER`], alone in its quorum, who
    /// calls a silent master down after one second.
    pub async fn sentinel_of(master: &RedisProcess) -> Self {
        Self::spawn(|dir, port| {
            let config = dir.join("sentinel.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 3000\n",
                dir.display(),
                master.port,
            );
            std::fs::write(&config, text).expect("write sentinel.conf");
            vec![path(&config).to_owned(), "--sentinel".to_owned()]
        })
        .await
    }

    async fn spawn(args: impl FnOnce(&Path, u16) -> Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(args(dir.path(), port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (apt install redis-server)");
        let process = Self {
            port,
            child,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn server_args(dir: &Path, port: u16) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        path(dir),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a local address").port()
}

/// A certificate authority, a server certificate for 127.0.0.1 and a
/// client certificate, all signed by it: PEM files in a temporary
/// directory, made with `openssl`.
pub struct Certificates {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    _dir: TempDir,
}

impl Certificates {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let at = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl must be installed for this test");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Parley test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        for (name, extension) in [
            ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            ("client", "extendedKeyUsage=clientAuth"),
        ] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ]);
            std::fs::write(at(&format!("{name}.ext")), extension).expect("write an extension");
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        Self {
            ca: at("ca.pem"),
            server_cert: at("server.pem"),
            server_key: at("server.key"),
            client_cert: at("client.pem"),
            client_key: at("client.key"),
            _dir: dir,
        }
    }
}
