//! `echo`: C clients each emit `echo` with an acknowledgement in a closed
//! loop (the next after the answer) for D seconds: acknowledgements per
//! second, round-trip percentiles, and the servers' CPU per ack.

use crate::client::{Client, Target};
use crate::server::{CpuWindow, ServerCpu};
use crate::stats::{Percentiles, histogram};
use crate::{Common, Outcome, progress};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Settings of the echo scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct EchoArgs {
    /// Clients, spread round-robin over the URLs.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Seconds to wait for an answer before counting it lost.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
}

/// What an echo run measured.
#[derive(Debug, Serialize)]
pub struct EchoReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Clients that ran.
    pub clients: usize,
    /// Clients that could not connect.
    pub connect_failures: usize,
    /// Acknowledgements received.
    pub acks: u64,
    /// Emits that got no answer in time, or a wrong one.
    pub lost: u64,
    /// Acknowledgements per second.
    pub acks_per_sec: f64,
    /// Round-trip time, microseconds.
    pub rtt_us: Percentiles,
    /// What the servers spent (CPU per ack).
    pub server: Option<ServerCpu>,
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &EchoArgs) -> Result<Outcome, String> {
    let targets = common.targets().await?;
    let (clients, connect_failures) = connect_all(common, &targets, args.clients).await;
    let payload = "x".repeat(args.size);
    let lost = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let bar = progress(common, (args.duration * 10.0) as u64, "× 0.1 s");
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let wait = Duration::from_secs_f64(args.timeout);
    let cpu = CpuWindow::start(&common.server_pid);
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let body = format!(r#"["echo","{payload}",{i}]"#);
            let expected = format!(r#"["{payload}",{i}]"#);
            let counts = (lost.clone(), done.clone());
            tokio::spawn(echo_loop(client, body, expected, deadline, wait, counts))
        })
        .collect();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut rtt = histogram();
    for task in tasks {
        if let Ok(h) = task.await {
            let _ = rtt.add(&h);
        }
    }
    let window = started.elapsed().as_secs_f64();
    let acks = done.load(Ordering::Relaxed);
    let report = EchoReport {
        scenario: "echo",
        clients: args.clients - connect_failures,
        connect_failures,
        acks,
        lost: lost.load(Ordering::Relaxed),
        acks_per_sec: acks as f64 / window.max(1e-9),
        rtt_us: Percentiles::of(&rtt),
        server: cpu.finish(acks),
    };
    outcome(&report)
}

/// Connects `count` clients one after another; returns them and how many
/// could not connect.
async fn connect_all(common: &Common, targets: &[Target], count: usize) -> (Vec<Client>, usize) {
    let mut clients = Vec::new();
    let mut connect_failures = 0;
    for i in 0..count {
        let target = &targets[i % targets.len()];
        match Client::connect(
            target,
            common.source_address(i),
            common.transport(i),
            "/",
            None,
        )
        .await
        {
            Ok(client) => clients.push(client),
            Err(e) => {
                connect_failures += 1;
                eprintln!("client {i}: {e}");
            }
        }
    }
    (clients, connect_failures)
}

/// One client's closed loop until `deadline` (or its first lost answer),
/// counting `(lost, done)`; returns its round-trip times.
async fn echo_loop(
    mut client: Client,
    body: String,
    expected: String,
    deadline: Instant,
    wait: Duration,
    (lost, done): (Arc<AtomicU64>, Arc<AtomicU64>),
) -> Histogram<u64> {
    let mut rtt = histogram();
    while Instant::now() < deadline {
        let sent = Instant::now();
        match client.emit_with_ack(&body, wait).await {
            Ok(answer) if answer == expected => {
                let _ = rtt.record((sent.elapsed().as_micros() as u64).max(1));
                done.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                lost.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    client.close().await;
    rtt
}

/// The report for machines and for people, and the share of emits lost.
fn outcome(report: &EchoReport) -> Result<Outcome, String> {
    let human = format!(
        "echo: {} clients, {} acks ({:.0}/s), {} lost\nround trip {}{}",
        report.clients,
        report.acks,
        report.acks_per_sec,
        report.lost,
        report.rtt_us.human(),
        crate::server_line(report.server.as_ref(), "ack")
    );
    let loss = report.lost as f64 / (report.acks + report.lost).max(1) as f64;
    Ok(Outcome {
        json: serde_json::to_value(report).map_err(|e| e.to_string())?,
        human,
        loss,
    })
}
