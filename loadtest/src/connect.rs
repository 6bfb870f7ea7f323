//! `connect`: ramps N clients up at R per second, holds them idle for S
//! seconds (they answer pings), then reports connect-time percentiles,
//! failures, and the servers' memory per client when their pids are given.

use crate::client::{Client, Incoming, Target, Transport};
use crate::server::rss_kib;
use crate::stats::{Percentiles, histogram};
use crate::{Common, Outcome, progress};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use parking_lot::Mutex;
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Settings of the connect scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Clients, spread round-robin over the URLs.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// New clients per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds to hold every client connected, idle.
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// Namespace to join.
    #[arg(long, default_value = "/")]
    pub namespace: String,
}

/// What a connect run measured.
#[derive(Debug, Serialize)]
pub struct ConnectReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Clients connected (handshake and namespace).
    pub connected: usize,
    /// Clients that failed to connect.
    pub failures: usize,
    /// Clients still connected at the end of the hold.
    pub held: usize,
    /// Time to connect (handshake to CONNECT reply), microseconds.
    pub connect_us: Percentiles,
    /// Servers' resident memory before the clients came, KiB.
    pub rss_before_kib: Option<u64>,
    /// Servers' resident memory with every client connected, KiB.
    pub rss_held_kib: Option<u64>,
    /// Memory per held client, bytes.
    pub bytes_per_client: Option<f64>,
}

fn rss(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// What the clients count, together.
struct Tally {
    connected: AtomicUsize,
    failed: AtomicUsize,
    alive: AtomicUsize,
    times: Mutex<Histogram<u64>>,
    bar: ProgressBar,
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &ConnectArgs) -> Result<Outcome, String> {
    let targets = common.targets().await?;
    let rss_before = rss(&common.server_pid);
    let (stop_tx, stop_rx) = watch::channel(false);
    let tally = Arc::new(Tally {
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        alive: AtomicUsize::new(0),
        times: Mutex::new(histogram()),
        bar: progress(common, args.clients as u64, "clients"),
    });
    let tasks = ramp_up(common, args, &targets, &tally, &stop_rx).await;
    let ready_by = Instant::now() + Duration::from_secs(120);
    while tally.connected.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed)
        < args.clients
        && Instant::now() < ready_by
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tally.bar.finish_and_clear();
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    let rss_held = rss(&common.server_pid);
    let held = tally.alive.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let report = ConnectReport {
        scenario: "connect",
        connected: tally.connected.load(Ordering::Relaxed),
        failures: tally.failed.load(Ordering::Relaxed),
        held,
        connect_us: Percentiles::of(&tally.times.lock()),
        rss_before_kib: rss_before,
        rss_held_kib: rss_held,
        bytes_per_client: match (rss_before, rss_held) {
            (Some(before), Some(held_kib)) if held > 0 => {
                Some(held_kib.saturating_sub(before) as f64 * 1024.0 / held as f64)
            }
            _ => None,
        },
    };
    outcome(&report, args)
}

/// Starts the clients at `--rate`, each in a task of its own.
async fn ramp_up(
    common: &Common,
    args: &ConnectArgs,
    targets: &[Target],
    tally: &Arc<Tally>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let pause = Duration::from_secs_f64(1.0 / args.rate.max(1.0));
    let mut tasks = Vec::with_capacity(args.clients);
    let mut next = Instant::now();
    for i in 0..args.clients {
        let target = targets[i % targets.len()].clone();
        let (source, transport) = (common.source_address(i), common.transport(i));
        let ns = args.namespace.clone();
        tasks.push(tokio::spawn(hold_client(
            i,
            target,
            source,
            transport,
            ns,
            tally.clone(),
            stop.clone(),
        )));
        next += pause;
        tokio::time::sleep_until(next.into()).await;
    }
    tasks
}

/// Client `i`: connects, answers pings until told to stop, then closes.
async fn hold_client(
    i: usize,
    target: Target,
    source: Option<IpAddr>,
    transport: Transport,
    ns: String,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut client = match Client::connect(&target, source, transport, &ns, None).await {
        Ok(client) => client,
        Err(e) => {
            if tally.failed.fetch_add(1, Ordering::Relaxed) < 10 {
                crate::say(&tally.bar, format!("client {i}: {e}"));
            }
            tally.bar.inc(1);
            return;
        }
    };
    let _ = tally
        .times
        .lock()
        .record((started.elapsed().as_micros() as u64).max(1));
    tally.connected.fetch_add(1, Ordering::Relaxed);
    tally.alive.fetch_add(1, Ordering::Relaxed);
    tally.bar.inc(1);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            incoming = client.next() => match incoming {
                Ok(Incoming::Closed) | Err(_) => {
                    tally.alive.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                Ok(_) => {}
            },
        }
    }
    client.close().await;
}

/// The report for machines and for people, and the share of clients lost.
fn outcome(report: &ConnectReport, args: &ConnectArgs) -> Result<Outcome, String> {
    let mut human = format!(
        "connect: {} connected, {} failed, {} held after {:.0} s\nconnect time {}",
        report.connected,
        report.failures,
        report.held,
        args.hold,
        report.connect_us.human()
    );
    if let (Some(before), Some(held_kib), Some(per)) = (
        report.rss_before_kib,
        report.rss_held_kib,
        report.bytes_per_client,
    ) {
        human.push_str(&format!(
            "\nserver RSS {:.1} MiB → {:.1} MiB: {:.2} KiB per client",
            before as f64 / 1024.0,
            held_kib as f64 / 1024.0,
            per / 1024.0
        ));
    }
    let lost =
        (report.failures + report.connected - report.held) as f64 / args.clients.max(1) as f64;
    Ok(Outcome {
        json: serde_json::to_value(report).map_err(|e| e.to_string())?,
        human,
        loss: lost,
    })
}
