//! `churn`: K workers connect a client, use it, and disconnect it, over and
//! over for D seconds — a soak test of session setup and teardown. Reports
//! cycles per second, failures, connect times, and the servers' memory at
//! the start and the end (a leak shows).
//!
//! By default a cycle is one echo round trip and a clean close. With
//! `--rooms`, a cycle also joins one of the rooms, publishes to it, and
//! stays connected about `--hold` seconds reading what the room receives;
//! `--endings` rotates how cycles end: a clean close, a TCP reset, or a
//! client that vanishes (silent until the server gives up on it). After an
//! abrupt ending the worker's next client asks for connection state
//! recovery with the session's `pid` and last offset.

mod cycle;

use crate::server::rss_kib;
use crate::stats::{Percentiles, histogram};
use crate::{Common, Outcome, progress};
use cycle::{Vanished, Worker};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Settings of the churn scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ChurnArgs {
    /// Clients connecting and disconnecting at the same time.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Rooms the clients join (one per cycle) and publish to; 0: none.
    #[arg(long, default_value_t = 0)]
    pub rooms: usize,
    /// Seconds a client stays connected, on average (each between half
    /// and one and a half times this); 0: it leaves after its round trip.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// How cycles end, in turns (comma-separated): `clean` (a close),
    /// `reset` (TCP RST, no close), `vanish` (the client goes silent).
    #[arg(long, value_delimiter = ',', default_value = "clean")]
    pub endings: Vec<Ending>,
    /// Seconds a vanished client keeps its connection open and silent
    /// before dropping it (longer than the server's ping interval plus
    /// ping timeout, so that the server is the one to give up).
    #[arg(long, default_value_t = 60.0)]
    pub vanish_for: f64,
}

/// How a cycle ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Socket.IO and transport closed properly.
    Clean,
    /// The TCP connection reset (a WebSocket), or polling stopped.
    Reset,
    /// The client stops reading and writing, its connection still open.
    Vanish,
}

/// What a churn run measured.
#[derive(Debug, Serialize)]
pub struct ChurnReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Connect, use and disconnect cycles completed.
    pub cycles: u64,
    /// Cycles that failed.
    pub failures: u64,
    /// Cycles per second.
    pub cycles_per_sec: f64,
    /// Cycles ended cleanly, by reset, by vanishing.
    pub endings: [u64; 3],
    /// Connections that asked for connection state recovery.
    pub recovery_attempts: u64,
    /// Of them, recovered (the server answered with the same `pid`).
    pub recovered: u64,
    /// Room messages received.
    pub messages: u64,
    /// Time to connect, microseconds.
    pub connect_us: Percentiles,
    /// Servers' resident memory at the start, KiB.
    pub rss_start_kib: Option<u64>,
    /// Servers' resident memory at the end, KiB.
    pub rss_end_kib: Option<u64>,
}

/// What the workers count, together.
#[derive(Default)]
struct Counters {
    cycles: AtomicU64,
    failures: AtomicU64,
    endings: [AtomicU64; 3],
    recovery_attempts: AtomicU64,
    recovered: AtomicU64,
    messages: AtomicU64,
}

/// The servers' resident memory in all, KiB, when their pids are given.
fn rss(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &ChurnArgs) -> Result<Outcome, String> {
    let targets = common.targets().await?;
    if args.endings.is_empty() {
        return Err("give at least one ending".into());
    }
    let rss_start = rss(&common.server_pid);
    let counters = Arc::new(Counters::default());
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let bar = progress(common, (args.duration * 10.0) as u64, "× 0.1 s");
    let started = Instant::now();
    let vanished = Vanished::default();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let shared = Worker {
                common: common.clone(),
                targets: targets.clone(),
                args: args.clone(),
                counters: counters.clone(),
                vanished: vanished.clone(),
                bar: bar.clone(),
            };
            tokio::spawn(shared.run(worker, deadline))
        })
        .collect();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut times = histogram();
    for task in tasks {
        if let Ok(h) = task.await {
            let _ = times.add(&h);
        }
    }
    // Vanished clients are dropped now: the run is over.
    for task in vanished.lock().drain(..) {
        task.abort();
    }
    // Sessions close asynchronously: let the servers settle before reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = report(&counters, &times, started, rss_start, common);
    outcome(&report, args)
}

/// What the run counted, as a report.
fn report(
    counters: &Counters,
    times: &Histogram<u64>,
    started: Instant,
    rss_start: Option<u64>,
    common: &Common,
) -> ChurnReport {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let done = load(&counters.cycles);
    ChurnReport {
        scenario: "churn",
        cycles: done,
        failures: load(&counters.failures),
        cycles_per_sec: done as f64 / started.elapsed().as_secs_f64().max(1e-9),
        endings: [0, 1, 2].map(|i| load(&counters.endings[i])),
        recovery_attempts: load(&counters.recovery_attempts),
        recovered: load(&counters.recovered),
        messages: load(&counters.messages),
        connect_us: Percentiles::of(times),
        rss_start_kib: rss_start,
        rss_end_kib: rss(&common.server_pid),
    }
}

/// The report for machines and for people, and the share of cycles that failed.
fn outcome(report: &ChurnReport, args: &ChurnArgs) -> Result<Outcome, String> {
    let mut human = format!(
        "churn: {} cycles ({:.0}/s), {} failed\nconnect time {}",
        report.cycles,
        report.cycles_per_sec,
        report.failures,
        report.connect_us.human()
    );
    if args.rooms > 0 || args.endings != [Ending::Clean] {
        human.push_str(&format!(
            "\nended: {} clean, {} reset, {} vanished; recovered {} of {}; {} room messages",
            report.endings[0],
            report.endings[1],
            report.endings[2],
            report.recovered,
            report.recovery_attempts,
            report.messages
        ));
    }
    if let (Some(start), Some(end)) = (report.rss_start_kib, report.rss_end_kib) {
        human.push_str(&format!(
            "\nserver RSS {:.1} MiB → {:.1} MiB",
            start as f64 / 1024.0,
            end as f64 / 1024.0
        ));
    }
    let loss = report.failures as f64 / (report.cycles + report.failures).max(1) as f64;
    Ok(Outcome {
        json: serde_json::to_value(report).map_err(|e| e.to_string())?,
        human,
        loss,
    })
}
