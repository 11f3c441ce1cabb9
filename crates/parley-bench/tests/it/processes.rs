//! `--processes`: the `parley-bench` program, run as a child process with
//! its workers, against a real Parley server started in this test on
//! 127.0.0.1:0. A run over two processes must count exactly what one
//! process counts, and a worker that fails must fail the run, saying why.
//! Nothing here asserts speed.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{SECRET, TestServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// The most time one run of the program may take here.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The program with `args` and `flags` (which name the server), writing
/// its report to `json`.
fn program(args: &[&str], flags: Vec<String>, json: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley-bench"));
    command
        .args(args)
        .args(flags)
        .arg("--json")
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs the program against `server` to its end: the JSON report, or its
/// stderr when it failed.
async fn run(server: &TestServer, args: &[&str]) -> Result<Value, String> {
    run_with(args, server.flags()).await
}

/// Runs the program with `args` and `flags` to its end: the JSON report,
/// or its stderr when it failed.
async fn run_with(args: &[&str], flags: Vec<String>) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = tokio::time::timeout(RUN_LIMIT, program(args, flags, &json).output())
        .await
        .expect("the run ends in time")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(stderr);
    }
    let text = std::fs::read_to_string(&json).unwrap_or_else(|_| panic!("no report: {stderr}"));
    Ok(serde_json::from_str(&text).unwrap())
}

/// A fanout of 400 connections on 20 channels, 60 publications.
async fn fanout(server: &TestServer, processes: &str) -> Value {
    run(
        server,
        &[
            "fanout",
            "--connections",
            "400",
            "--channels",
            "20",
            "--rate",
            "100",
            "--batch",
            "10",
            "--max-publications",
            "60",
            "--duration",
            "3s",
            "--processes",
            processes,
        ],
    )
    .await
    .unwrap_or_else(|stderr| panic!("fanout over {processes} processes failed: {stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanout_over_two_processes_delivers_exactly_what_one_process_does() {
    let server = TestServer::start().await;
    let one = fanout(&server, "1").await;
    let two = fanout(&server, "2").await;
    for report in [&one, &two] {
        assert_eq!(report["connections"]["open"], 400, "{report:#}");
        assert_eq!(report["publications"]["accepted"], 60, "{report:#}");
        assert_eq!(report["publications"]["failed"], 0, "{report:#}");
        let deliveries = &report["deliveries"];
        // 20 subscribers a channel: every publication is delivered 20 times.
        assert_eq!(deliveries["expected"], 60 * 20, "{report:#}");
        assert_eq!(deliveries["delivered"], deliveries["expected"]);
        assert_eq!(deliveries["loss_percent"], 0.0);
        assert_eq!(report["latency_ms"]["count"], deliveries["delivered"]);
        assert_eq!(report["disconnects"]["dropped"], 0);
        assert_eq!(report["errors"], serde_json::json!({}), "{report:#}");
    }
    assert_eq!(two["settings"]["processes"], "2");
    assert!(one["settings"].get("processes").is_none());
    // The workers' handshakes are in the connect figures, their CPU in
    // the generator's.
    assert_eq!(two["connect"]["time_ms"]["count"], 400);
    assert!(two["generator"]["cpu_percent"].as_f64().unwrap() > 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_connect_over_two_processes_open_every_connection() {
    let server = TestServer::start().await;
    let idle = run(
        &server,
        &[
            "idle",
            "--connections",
            "300",
            "--channels",
            "3",
            "--duration",
            "300ms",
            "--settle",
            "50ms",
            "--processes",
            "2",
        ],
    )
    .await
    .unwrap();
    assert_eq!(idle["connections"]["open"], 300, "{idle:#}");
    assert_eq!(idle["connections"]["failed"], 0);
    assert_eq!(idle["disconnects"]["dropped"], 0);
    let connect = run(
        &server,
        &[
            "connect",
            "--connections",
            "250",
            "--duration",
            "20s",
            "--processes",
            "2",
        ],
    )
    .await
    .unwrap();
    assert_eq!(connect["connections"]["open"], 250, "{connect:#}");
    assert_eq!(connect["connect"]["time_ms"]["count"], 250);
    assert!(
        connect["connect"]["generator_cpu_us_per_connection"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_workers_reach_no_server_fails_with_the_reason() {
    // Nothing listens on port 1: every worker's handshakes are refused.
    let flags = ["--url", "http://127.0.0.1:1", "--app-secret", SECRET];
    let stderr = run_with(
        &[
            "idle",
            "--connections",
            "20",
            "--processes",
            "2",
            "--duration",
            "1s",
        ],
        flags.map(str::to_owned).into(),
    )
    .await
    .unwrap_err();
    assert!(
        stderr.contains("no connection could be opened") && stderr.contains("20× open:"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_fails_the_run_with_its_stderr() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "idle",
        "--connections",
        "40",
        "--processes",
        "2",
        "--duration",
        "60s",
        "--settle",
        "10ms",
    ];
    let mut parent = program(&args, server.flags(), &dir.path().join("report.json"))
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(parent.stderr.take().unwrap()).lines();
    // Once the connections are open, the workers are holding them.
    let mut seen = String::new();
    let opened = async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("over 2 processes") {
                return;
            }
        }
        panic!("the run ended before its connections opened");
    };
    tokio::time::timeout(RUN_LIMIT, opened)
        .await
        .expect("the connections open in time");
    let worker = child_pids(&parent)
        .into_iter()
        .max()
        .expect("the parent has worker processes");
    // SAFETY: kill(2) on a process this test's child started.
    assert_eq!(unsafe { libc::kill(worker, libc::SIGKILL) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(30), parent.wait())
        .await
        .expect("the run ends soon after its worker died, not after --duration")
        .unwrap();
    assert!(!status.success());
    let mut rest = String::new();
    stderr
        .into_inner()
        .into_inner()
        .read_to_string(&mut rest)
        .await
        .unwrap();
    assert!(
        rest.contains("worker 1/2") && rest.contains("SIGKILL") && rest.contains("its stderr ends"),
        "{seen}{rest}"
    );
    server.stop().await;
}

/// The pids of `parent`'s child processes, from /proc.
fn child_pids(parent: &Child) -> Vec<i32> {
    let parent = parent.id().expect("the parent runs");
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces):
        // state, then the parent's pid.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if after_name.split_whitespace().nth(1) == Some(&parent.to_string()) {
            children.push(pid);
        }
    }
    children
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_inside_another_program_refuses_to_start_workers() {
    use clap::Parser;
    let server = TestServer::start().await;
    let mut argv = [
        "parley-bench",
        "idle",
        "--connections",
        "4",
        "--processes",
        "2",
    ]
    .map(str::to_owned)
    .to_vec();
    argv.extend(server.flags());
    let cli = parley_bench::cli::Cli::try_parse_from(argv).unwrap();
    // This test binary is not the generator: it cannot be started again as
    // its workers.
    let error = parley_bench::run(cli, 0).await.unwrap_err();
    assert!(error.contains("starts this program again"), "{error}");
    server.stop().await;
}
