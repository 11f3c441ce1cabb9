//! `parley config check`, through the real binary: the effective
//! configuration of a file, the environment and the flags, printed as TOML
//! with every secret masked and nothing written; an invalid configuration
//! exits with 1 and says why.

use std::path::Path;
use std::process::{Command, Output};

const APP_SECRET: &str = "app-secret-0123456789abcdef";
const API_KEY: &str = "api-key-0123456789";
const DB_PASSWORD: &str = "db-pass-0123";
const REDIS_PASSWORD: &str = "redis-pass-0123";
const HOOK_PASSWORD: &str = "hook-pass-0123";

fn check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args(["config", "check"])
        .args(args)
        .current_dir(dir)
        .env_remove("PARLEY_CONFIG")
        .env_remove("PARLEY_DEV");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("parley runs")
}

fn files_under(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_effective_configuration_is_printed_with_every_secret_masked_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parley.toml");
    std::fs::write(
        &file,
        format!(
            r#"
database_url = "postgres://parley:{DB_PASSWORD}@db:5432/parley"

[cluster]
broker = "redis"
redis_url = "redis://:{REDIS_PASSWORD}@redis:6379"

[[apps]]
id = "main"
secret = "{APP_SECRET}"
api_keys = ["{API_KEY}"]

[apps.webhooks]
urls = ["https://hooks:{HOOK_PASSWORD}@hooks.example.com/parley"]

[apps.namespaces.chat]
persist = true
rate = "5/s"
"#
        ),
    )
    .unwrap();
    let output = check(
        dir.path(),
        &["--config", "parley.toml", "--log-format", "json", "--dev"],
        &[
            ("PARLEY_LISTEN", "0.0.0.0:7171"),
            ("PARLEY__APPS__0__NAMESPACES__CHAT__TYPING", "false"),
        ],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [
        APP_SECRET,
        API_KEY,
        DB_PASSWORD,
        REDIS_PASSWORD,
        HOOK_PASSWORD,
    ] {
        assert!(!stdout.contains(secret), "{secret} is printed:\n{stdout}");
    }

    let printed: toml::Table = stdout.parse().expect("the output is TOML");
    // The file, the environment (named and PARLEY__ variables) and the
    // flags, each applied.
    assert_eq!(printed["listen"].as_str(), Some("0.0.0.0:7171"));
    assert_eq!(printed["log_format"].as_str(), Some("json"));
    assert_eq!(printed["allow_local_origins"].as_bool(), Some(true));
    assert_eq!(printed["ping_interval"].as_str(), Some("25s"));
    let app = &printed["apps"].as_array().unwrap()[0];
    assert_eq!(app["id"].as_str(), Some("main"));
    assert_eq!(app["secret"].as_str(), Some("********"));
    assert_eq!(
        app["api_keys"].as_array().unwrap()[0].as_str(),
        Some("********")
    );
    let chat = &app["namespaces"]["chat"];
    assert_eq!(chat["persist"].as_bool(), Some(true));
    assert_eq!(chat["typing"].as_bool(), Some(false));
    assert_eq!(chat["rate"].as_str(), Some("5/s"));
    assert_eq!(
        app["webhooks"]["urls"].as_array().unwrap()[0].as_str(),
        Some("https://hooks:********@hooks.example.com/parley")
    );
    assert_eq!(
        printed["database_url"].as_str(),
        Some("postgres://parley:********@db:5432/parley")
    );
    assert_eq!(
        printed["cluster"]["redis_url"].as_str(),
        Some("redis://:********@redis:6379")
    );
    assert_eq!(
        files_under(dir.path()),
        ["parley.toml"],
        "nothing is written"
    );
}

#[test]
fn without_credentials_the_check_says_a_start_would_generate_them_and_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let output = check(dir.path(), &[], &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("the first start generates them into ./parley-data/credentials.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("key = \"(generated at first start)\""),
        "{stdout}"
    );
    assert!(files_under(dir.path()).is_empty(), "nothing is written");
}

#[test]
fn an_invalid_configuration_exits_with_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "ping_intervall = \"5s\"\n").unwrap();
    let output = check(dir.path(), &["--config", "bad.toml"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("ping_intervall"), "{stderr}");
    assert!(output.stdout.is_empty());

    let output = check(dir.path(), &[], &[("PARLEY_LISTEN", "not an address")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("PARLEY_LISTEN"),
        "the bad variable is named"
    );
}
