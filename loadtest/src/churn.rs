//! `churn`: K workers connect a client, make one echo round trip, and
//! disconnect it, over and over for D seconds — a soak test of session
//! setup and teardown. Reports cycles per second, failures, connect times,
//! and the servers' memory at the start and the end (a leak shows).

use crate::client::Client;
use crate::server::rss_kib;
use crate::stats::{Percentiles, histogram};
use crate::{Common, Outcome, progress};
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
}

/// What a churn run measured.
#[derive(Debug, Serialize)]
pub struct ChurnReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Connect, echo and disconnect cycles completed.
    pub cycles: u64,
    /// Cycles that failed.
    pub failures: u64,
    /// Cycles per second.
    pub cycles_per_sec: f64,
    /// Time to connect, microseconds.
    pub connect_us: Percentiles,
    /// Servers' resident memory at the start, KiB.
    pub rss_start_kib: Option<u64>,
    /// Servers' resident memory at the end, KiB.
    pub rss_end_kib: Option<u64>,
}

fn rss(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &ChurnArgs) -> Result<Outcome, String> {
    let targets = common.targets().await?;
    let rss_start = rss(&common.server_pid);
    let (cycles, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let bar = progress(common, (args.duration * 10.0) as u64, "× 0.1 s");
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let common = common.clone();
            let targets = targets.clone();
            let stride = args.concurrency;
            let (cycles, failures) = (cycles.clone(), failures.clone());
            tokio::spawn(async move {
                let mut times = histogram();
                let mut n = worker;
                while Instant::now() < deadline {
                    let target = &targets[n % targets.len()];
                    let begun = Instant::now();
                    let result = async {
                        let mut client = Client::connect(
                            target,
                            common.source_address(n),
                            common.transport(n),
                            "/",
                            None,
                        )
                        .await
                        .map_err(|e| e.0)?;
                        let connected = begun.elapsed();
                        let answer = client
                            .emit_with_ack(r#"["echo","churn"]"#, Duration::from_secs(5))
                            .await
                            .map_err(|e| e.0)?;
                        client.close().await;
                        if answer != r#"["churn"]"# {
                            return Err(format!("wrong answer {answer}"));
                        }
                        Ok::<_, String>(connected)
                    }
                    .await;
                    match result {
                        Ok(connected) => {
                            let _ = times.record((connected.as_micros() as u64).max(1));
                            cycles.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if failures.fetch_add(1, Ordering::Relaxed) < 10 {
                                eprintln!("churn: {e}");
                            }
                        }
                    }
                    // Workers take client numbers in turns: transports and
                    // source addresses rotate.
                    n += stride;
                }
                times
            })
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
    // Sessions close asynchronously: let the servers settle before reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done = cycles.load(Ordering::Relaxed);
    let report = ChurnReport {
        scenario: "churn",
        cycles: done,
        failures: failures.load(Ordering::Relaxed),
        cycles_per_sec: done as f64 / started.elapsed().as_secs_f64().max(1e-9),
        connect_us: Percentiles::of(&times),
        rss_start_kib: rss_start,
        rss_end_kib: rss(&common.server_pid),
    };
    let mut human = format!(
        "churn: {} cycles ({:.0}/s), {} failed\nconnect time {}",
        report.cycles,
        report.cycles_per_sec,
        report.failures,
        report.connect_us.human()
    );
    if let (Some(start), Some(end)) = (report.rss_start_kib, report.rss_end_kib) {
        human.push_str(&format!(
            "\nserver RSS {:.1} MiB → {:.1} MiB",
            start as f64 / 1024.0,
            end as f64 / 1024.0
        ));
    }
    let loss = report.failures as f64 / (report.cycles + report.failures).max(1) as f64;
    Ok(Outcome {
        json: serde_json::to_value(&report).map_err(|e| e.to_string())?,
        human,
        loss,
    })
}
