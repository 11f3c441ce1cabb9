//! `parley serve --dev`, through the real binary: listening on every
//! interface (where local pages are not allowed by default), a page on
//! `http://localhost:<any port>` may call the API, and the printed API key
//! and user token work.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Client;
use serde_json::json;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a started server printed: its port, the first API key, and the
/// dev token when there is one.
struct Started {
    _child: Child,
    _dir: tempfile::TempDir,
    port: String,
    api_key: String,
    token: Option<String>,
}

fn start(dev: bool) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["serve", "--listen", "0.0.0.0:0"];
    if dev {
        args.push("--dev");
    }
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("PARLEY_CONFIG")
            .env_remove("PARLEY_DEV")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (mut port, mut api_key, mut token) = (None, None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(key) = line.strip_prefix("HTTP API key: ") {
            api_key = Some(key.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Parley listening on http://0.0.0.0:") {
            port = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some((_, minted)) = line.split_once("token for user \"dev\" (24h): ") {
            token = Some(minted.to_owned());
        }
        let last = if dev {
            "token for user"
        } else {
            "parley token --user"
        };
        if line.contains(last) {
            break;
        }
    }
    Started {
        _child: child,
        _dir: dir,
        port: port.expect("prints the address"),
        api_key: api_key.expect("prints the API key"),
        token,
    }
}

async fn info_from_localhost_page(started: &Started) -> u16 {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/api/v1/info", started.port))
        .bearer_auth(&started.api_key)
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn dev_mode_allows_local_pages_on_any_address_and_prints_a_working_token() {
    let plain = start(false);
    assert_eq!(
        info_from_localhost_page(&plain).await,
        403,
        "without --dev, a server on 0.0.0.0 refuses local pages"
    );
    assert!(plain.token.is_none());

    let dev = start(true);
    assert_eq!(info_from_localhost_page(&dev).await, 200);
    let token = dev.token.clone().expect("prints a dev token");
    let mut client = Client::open(&format!("ws://127.0.0.1:{}/ws", dev.port)).await;
    assert_eq!(
        client.ok("connect", json!({"token": token})).await["user"],
        "dev"
    );
}
