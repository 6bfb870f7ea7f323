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

use crate::client::{Client, Incoming};
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

#[derive(Default)]
struct Counters {
    cycles: AtomicU64,
    failures: AtomicU64,
    endings: [AtomicU64; 3],
    recovery_attempts: AtomicU64,
    recovered: AtomicU64,
    messages: AtomicU64,
}

fn rss(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// What a worker keeps from a session that ended abruptly: enough to ask
/// for its recovery.
struct Resume {
    pid: String,
    offset: String,
}

/// A small xorshift generator: hold times that differ per worker and cycle.
struct Spread(u64);

impl Spread {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
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
            let (common, targets, args) = (common.clone(), targets.clone(), args.clone());
            let (counters, vanished, bar) = (counters.clone(), vanished.clone(), bar.clone());
            tokio::spawn(async move {
                let mut times = histogram();
                let mut n = worker;
                let mut spread = Spread(0x9e37_79b9_7f4a_7c15 ^ (worker as u64 + 1));
                let mut resume: Option<Resume> = None;
                while Instant::now() < deadline {
                    let ending = args.endings[(n / args.concurrency) % args.endings.len()];
                    let begun = Instant::now();
                    let result = cycle(
                        &common,
                        &targets,
                        &args,
                        n,
                        ending,
                        resume.take(),
                        &mut spread,
                        &counters,
                        &vanished,
                    )
                    .await;
                    match result {
                        Ok((connected, kept)) => {
                            let _ = times.record((connected.as_micros() as u64).max(1));
                            counters.cycles.fetch_add(1, Ordering::Relaxed);
                            counters.endings[ending as usize].fetch_add(1, Ordering::Relaxed);
                            resume = kept;
                        }
                        Err(e) => {
                            if counters.failures.fetch_add(1, Ordering::Relaxed) < 10 {
                                crate::say(&bar, format!("churn: {e}"));
                            }
                            // Not too fast when the servers refuse.
                            tokio::time::sleep(Duration::from_millis(100).min(begun.elapsed() * 2))
                                .await;
                        }
                    }
                    // Workers take client numbers in turns: transports,
                    // source addresses and endings rotate.
                    n += args.concurrency;
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
    // Vanished clients are dropped now: the run is over.
    for task in vanished.lock().drain(..) {
        task.abort();
    }
    // Sessions close asynchronously: let the servers settle before reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let done = load(&counters.cycles);
    let report = ChurnReport {
        scenario: "churn",
        cycles: done,
        failures: load(&counters.failures),
        cycles_per_sec: done as f64 / started.elapsed().as_secs_f64().max(1e-9),
        endings: [0, 1, 2].map(|i| load(&counters.endings[i])),
        recovery_attempts: load(&counters.recovery_attempts),
        recovered: load(&counters.recovered),
        messages: load(&counters.messages),
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
        json: serde_json::to_value(&report).map_err(|e| e.to_string())?,
        human,
        loss,
    })
}

/// The tasks holding vanished clients' connections open.
type Vanished = Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>;

/// One client's life. Returns how long it took to connect, and what its
/// worker needs to recover the session when it ended abruptly.
#[allow(clippy::too_many_arguments)]
async fn cycle(
    common: &Common,
    targets: &[crate::client::Target],
    args: &ChurnArgs,
    n: usize,
    ending: Ending,
    resume: Option<Resume>,
    spread: &mut Spread,
    counters: &Counters,
    vanished: &Vanished,
) -> Result<(Duration, Option<Resume>), String> {
    let target = &targets[n % targets.len()];
    let begun = Instant::now();
    let auth = resume
        .as_ref()
        .map(|r| serde_json::json!({"pid": r.pid, "offset": r.offset}).to_string());
    let mut client = Client::connect(
        target,
        common.source_address(n),
        common.transport(n),
        "/",
        auth.as_deref(),
    )
    .await
    .map_err(|e| e.0)?;
    let connected = begun.elapsed();
    let pid = pid_of(client.connect_reply());
    let recovered = match (&resume, &pid) {
        (Some(r), Some(pid)) => {
            counters.recovery_attempts.fetch_add(1, Ordering::Relaxed);
            let same = *pid == r.pid;
            if same {
                counters.recovered.fetch_add(1, Ordering::Relaxed);
            }
            same
        }
        (Some(_), None) => {
            counters.recovery_attempts.fetch_add(1, Ordering::Relaxed);
            false
        }
        _ => false,
    };
    let mut offset = resume.filter(|_| recovered).map(|r| r.offset);
    if args.rooms > 0 {
        let room = format!("churn-{}", (n / 3) % args.rooms);
        if !recovered {
            let joined = client
                .emit_with_ack(&format!(r#"["join","{room}"]"#), Duration::from_secs(10))
                .await
                .map_err(|e| format!("join: {}", e.0))?;
            if joined != "[true]" {
                return Err(format!("join answered {joined}"));
            }
        }
        client
            .emit(&format!(
                r#"["publish",{{"room":"{room}","payload":{{"n":{n}}}}}]"#
            ))
            .await
            .map_err(|e| format!("publish: {}", e.0))?;
    }
    let answer = client
        .emit_with_ack(r#"["echo","churn"]"#, Duration::from_secs(10))
        .await
        .map_err(|e| {
            format!(
                "echo ({:?}, {}): {}",
                common.transport(n),
                if recovered {
                    "recovered"
                } else {
                    "new session"
                },
                e.0
            )
        })?;
    if answer != r#"["churn"]"# {
        return Err(format!("wrong answer {answer}"));
    }
    if args.hold > 0.0 {
        let hold = Duration::from_secs_f64(args.hold * (0.5 + spread.unit()));
        let until = tokio::time::Instant::now() + hold;
        loop {
            match tokio::time::timeout_at(until, client.next()).await {
                Err(_) => break,
                Ok(Ok(Incoming::Text(text))) if text.starts_with("42[\"msg\"") => {
                    counters.messages.fetch_add(1, Ordering::Relaxed);
                    if let Some(o) = last_offset(&text) {
                        offset = Some(o);
                    }
                }
                Ok(Ok(Incoming::Closed)) => return Err("closed by the server".into()),
                Ok(Err(e)) => return Err(format!("reading: {}", e.0)),
                Ok(Ok(_)) => {}
            }
        }
    }
    let kept = match (pid, offset) {
        (Some(pid), Some(offset)) if ending != Ending::Clean => Some(Resume { pid, offset }),
        _ => None,
    };
    match ending {
        Ending::Clean => client.close().await,
        Ending::Reset => client.reset(),
        Ending::Vanish => {
            let silent = Duration::from_secs_f64(args.vanish_for);
            let mut held = vanished.lock();
            held.retain(|task| !task.is_finished());
            held.push(tokio::spawn(async move {
                tokio::time::sleep(silent).await;
                client.reset();
            }));
        }
    }
    Ok((connected, kept))
}

/// The `pid` of a CONNECT reply (`40{"sid":"…","pid":"…"}`), when the
/// server offers recovery.
fn pid_of(reply: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(reply.get(2..)?).ok()?;
    Some(body.get("pid")?.as_str()?.to_owned())
}

/// The offset a recoverable event carries as its last argument.
fn last_offset(text: &str) -> Option<String> {
    let args: Vec<serde_json::Value> = serde_json::from_str(text.get(2..)?).ok()?;
    if args.len() < 3 {
        return None;
    }
    Some(args.last()?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pid_and_the_offset() {
        assert_eq!(pid_of(r#"40{"sid":"a","pid":"b"}"#).as_deref(), Some("b"));
        assert_eq!(pid_of(r#"40{"sid":"a"}"#), None);
        assert_eq!(
            last_offset(r#"42["msg",{"n":1},"18c-1"]"#).as_deref(),
            Some("18c-1")
        );
        assert_eq!(last_offset(r#"42["msg",{"n":1}]"#), None);
    }
}
