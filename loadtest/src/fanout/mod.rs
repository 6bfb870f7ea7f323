//! `fanout`: subscribers in one room spread over one or more nodes, one
//! publisher at a fixed rate; measures delivery latency, loss, duplicates
//! and order at every subscriber. With `--rooms R`, subscribers are spread
//! over R rooms whose members are each on one node (room k on node k mod
//! N), and message s goes to room s mod R, published through node
//! (k + 1) mod N: the traffic that interest routing keeps off the others.
//! With `--all-rate`, a second publisher broadcasts to everyone (a publish
//! with no room) at that rate. With `--workers N`, the subscribers live in
//! N worker processes (see `workers`).

mod subscribers;
mod workers;

use crate::client::{Client, Incoming, Target, Transport};
use crate::server::{CpuWindow, ServerCpu};
use crate::stats::Percentiles;
use crate::{Common, Outcome, progress};
use serde::Serialize;
use std::time::{Duration, Instant};
use subscribers::{Tally, Totals, room_name, subscribe};

/// Settings of the fanout scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Subscribers, spread round-robin over the URLs (over the rooms with `--rooms`).
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Messages per second from the publisher.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Messages per second to everyone (a publish with no room), besides.
    #[arg(long, default_value_t = 0.0)]
    pub all_rate: f64,
    /// Payload size in bytes (padding included).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// How long to publish, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Room name (with `--rooms`, the prefix of `<room>-<k>`).
    #[arg(long, default_value = "fanout")]
    pub room: String,
    /// Rooms the subscribers are spread over, each served by one node.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Subscribers connected per second.
    #[arg(long, default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Seconds to wait for late deliveries after the last publish.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Extra WebSocket subscribers that join the room, then never read:
    /// the server should cut them off past their outgoing budget while the
    /// others keep their latency. Not counted as subscribers.
    #[arg(long, default_value_t = 0)]
    pub slow_consumers: usize,
    /// Worker processes holding the subscribers (one process opens about
    /// 20,000 files); this one coordinates and publishes.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Internal: run as worker i of `--workers`.
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
    /// Wait on this address for the `--workers` workers, started elsewhere
    /// with `--coordinator`, instead of starting them.
    #[arg(long)]
    pub listen: Option<String>,
    /// Run as a worker of the coordinator at this address (host:port).
    #[arg(long)]
    pub coordinator: Option<String>,
}

impl FanoutArgs {
    /// Whether this process is a worker of another.
    pub fn is_worker(&self) -> bool {
        self.worker.is_some() || self.coordinator.is_some()
    }
}

/// Nanoseconds since the Unix epoch: one clock for every process.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// How long `count` subscribers may take to connect and join.
fn ready_limit(args: &FanoutArgs, count: usize) -> Duration {
    Duration::from_secs_f64(count as f64 / args.connect_rate.max(1.0) + 60.0)
}

/// What the run publishes.
fn planned(args: &FanoutArgs) -> Totals {
    Totals {
        rooms: (args.rate * args.duration).round() as u64,
        all: (args.all_rate * args.duration).round() as u64,
    }
}

/// Runs as a worker: started by the coordinator (lines on standard input
/// and output) or joining it over TCP.
pub async fn worker(common: &Common, args: &FanoutArgs) -> Result<(), String> {
    let targets = common.targets().await?;
    let (at, lines, out): (_, workers::Reader, workers::Writer) = match &args.coordinator {
        Some(address) => {
            let (index, count, lines, out) = workers::join(address).await?;
            ((index, count), lines, out)
        }
        None => {
            let stdin = tokio::io::BufReader::new(
                Box::new(tokio::io::stdin()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>
            );
            (
                (args.worker.unwrap_or(0), args.workers),
                tokio::io::AsyncBufReadExt::lines(stdin),
                Box::new(tokio::io::stdout()),
            )
        }
    };
    workers::run(common, args, &targets, at, planned(args), lines, out).await
}

/// What a fanout run measured.
#[derive(Debug, Serialize)]
pub struct FanoutReport {
    /// Scenario name.
    pub scenario: &'static str,
    /// Subscribers connected and joined.
    pub subscribers: usize,
    /// Rooms they were spread over.
    pub rooms: usize,
    /// Subscribers that failed to connect or join.
    pub connect_failures: usize,
    /// Messages published to rooms.
    pub published: u64,
    /// Messages published to everyone.
    pub published_to_all: u64,
    /// Processes holding the subscribers.
    pub workers: usize,
    /// Deliveries expected (each subscriber: its room's share and every
    /// message to everyone).
    pub expected: u64,
    /// Distinct deliveries.
    pub delivered: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Deliveries seen twice or more.
    pub duplicates: u64,
    /// Deliveries older than one already seen by the same subscriber.
    pub out_of_order: u64,
    /// Some room messages (sequence numbers; message s went to room s mod
    /// R) that a subscriber missed.
    pub missing: Vec<u64>,
    /// Some messages to everyone that a subscriber missed.
    pub missing_to_all: Vec<u64>,
    /// Loss as a fraction of expected.
    pub loss_ratio: f64,
    /// Deliveries per second over the publishing window.
    pub deliveries_per_sec: f64,
    /// Publish-to-delivery latency, microseconds.
    pub latency_us: Percentiles,
    /// What the servers spent while publishing (CPU per delivery).
    pub server: Option<ServerCpu>,
    /// Subscribers that never read.
    pub slow_consumers: usize,
    /// Of them, those the server disconnected.
    pub slow_consumers_cut: usize,
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &FanoutArgs) -> Result<Outcome, String> {
    let report = measure(common, args).await?;
    let slow = if report.slow_consumers > 0 {
        format!(
            "\nslow consumers: {} of {} cut off by the server",
            report.slow_consumers_cut, report.slow_consumers
        )
    } else {
        String::new()
    };
    let missing = if report.missing.is_empty() && report.missing_to_all.is_empty() {
        String::new()
    } else {
        format!(
            "\nmissed (some sequence numbers): to rooms {:?}, to everyone {:?}",
            report.missing, report.missing_to_all
        )
    };
    let human = format!(
        "fanout: {} subscribers{}{}, {} published{}, {}/{} delivered ({:.0}/s), lost {} ({:.4}%), duplicates {}, out of order {}{missing}\nlatency {}{}{slow}",
        report.subscribers,
        match report.connect_failures {
            0 => String::new(),
            n => format!(" ({n} could not connect)"),
        },
        match report.rooms {
            1 => String::new(),
            n => format!(" in {n} rooms"),
        },
        report.published,
        match report.published_to_all {
            0 => String::new(),
            n => format!(" (and {n} to everyone)"),
        },
        report.delivered,
        report.expected,
        report.deliveries_per_sec,
        report.lost,
        report.loss_ratio * 100.0,
        report.duplicates,
        report.out_of_order,
        report.latency_us.human(),
        crate::server_line(report.server.as_ref(), "delivery"),
    );
    Ok(Outcome {
        json: serde_json::to_value(&report).map_err(|e| e.to_string())?,
        human,
        loss: report.loss_ratio,
    })
}

async fn measure(common: &Common, args: &FanoutArgs) -> Result<FanoutReport, String> {
    let targets = common.targets().await?;
    let totals = planned(args);
    let workers = args.workers.max(1);
    if workers > 1 && args.slow_consumers > 0 {
        return Err("--slow-consumers needs one process (no --workers)".into());
    }
    let limit = ready_limit(args, args.subscribers);
    let (mut local, mut spawned) = (None, Vec::new());
    if let Some(listen) = &args.listen {
        spawned = workers::accept(listen, workers, limit).await?;
        for worker in &mut spawned {
            worker.ready(limit).await?;
        }
    } else if workers > 1 {
        spawned = workers::spawn(workers)?;
        for worker in &mut spawned {
            worker.ready(limit).await?;
        }
    } else {
        let all = (0..args.subscribers).collect();
        let subs = subscribers::start(common, args, &targets, all, args.connect_rate, totals).await;
        subs.ready(limit).await;
        local = Some(subs);
    }
    let mut slow = Vec::with_capacity(args.slow_consumers);
    for i in 0..args.slow_consumers {
        let target = &targets[i % targets.len()];
        let source = common.source_address(args.subscribers + 1 + i);
        match subscribe(target, source, Transport::WebSocket, &args.room).await {
            Ok(client) => slow.push(client),
            Err(e) => return Err(format!("slow consumer {i}: {e}")),
        }
    }

    let cpu = CpuWindow::start(&common.server_pid);
    let started = Instant::now();
    let (rooms, all) = tokio::join!(
        publish_to_rooms(common, args, &targets, totals.rooms),
        publish_to_all(common, args, &targets[0], totals.all)
    );
    let ((rooms, mut publishers), (all, to_all)) = (rooms?, all?);
    let published = Totals { rooms, all };
    let window = started.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(args.drain)).await;
    let mut server = cpu.finish(0);
    // Closed only now: a client that closes with unread bytes resets its
    // connection, and the server may lose what it had not read yet.
    publishers.extend(to_all);
    for publisher in publishers {
        publisher.close().await;
    }

    let mut tally = match local {
        Some(subs) => subs.finish(published).await,
        None => Tally::default(),
    };
    for worker in spawned {
        tally.merge(worker.finish(published).await?);
    }
    let slow_consumers = slow.len();
    let slow_consumers_cut = was_cut(slow).await;
    let (delivered, expected) = (tally.delivered, tally.expected);
    if let Some(server) = &mut server {
        server.cpu_us_per_unit =
            (delivered > 0).then(|| server.cpu_seconds * 1e6 / delivered as f64);
    }
    Ok(FanoutReport {
        scenario: "fanout",
        subscribers: tally.joined,
        rooms: args.rooms.max(1),
        connect_failures: tally.failed,
        published: published.rooms,
        published_to_all: published.all,
        workers,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates: tally.duplicates,
        out_of_order: tally.out_of_order,
        missing: std::mem::take(&mut tally.missing),
        missing_to_all: std::mem::take(&mut tally.missing_to_all),
        loss_ratio: if expected == 0 {
            0.0
        } else {
            expected.saturating_sub(delivered) as f64 / expected as f64
        },
        deliveries_per_sec: delivered as f64 / window.as_secs_f64().max(1e-9),
        latency_us: Percentiles::of(&tally.histogram()),
        server,
        slow_consumers,
        slow_consumers_cut,
    })
}

/// A publisher connection through `target`.
async fn publisher(common: &Common, target: &Target, slot: usize) -> Result<Client, String> {
    Client::connect(
        target,
        common.source_address(slot),
        Transport::WebSocket,
        "/",
        None,
    )
    .await
    .map_err(|e| format!("publisher: {}", e.0))
}

/// Makes sure the server read everything `publisher` sent (its answer to
/// an echo comes after).
async fn settled(publisher: &mut Client) -> Result<(), String> {
    publisher
        .emit_with_ack(r#"["echo",1]"#, Duration::from_secs(60))
        .await
        .map(|_| ())
        .map_err(|e| format!("publisher: {}", e.0))
}

/// Publishes `total` room messages at `--rate`, each stamped with the
/// clock: through the first node, or with several rooms through the node
/// after the one serving the room. Returns the publishers, for the caller
/// to close after the drain.
async fn publish_to_rooms(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    total: u64,
) -> Result<(u64, Vec<Client>), String> {
    let rooms = args.rooms.max(1);
    let mut publishers = Vec::new();
    let through = if rooms == 1 { 1 } else { targets.len() };
    for (j, target) in targets.iter().enumerate().take(through) {
        let slot = args.subscribers + args.slow_consumers + 1 + j;
        publishers.push(publisher(common, target, slot).await?);
    }
    let padding = "x".repeat(args.size.saturating_sub(40));
    let bar = progress(common, total, "published");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(1e-3)));
    for seq in 0..total {
        ticker.tick().await;
        let t = now_ns();
        let k = (seq % rooms as u64) as usize;
        let body = format!(
            r#"["publish",{{"room":"{}","payload":{{"t":{t},"s":{seq},"p":"{padding}"}}}}]"#,
            room_name(args, k)
        );
        let through = (k + 1) % publishers.len();
        publishers[through]
            .emit(&body)
            .await
            .map_err(|e| format!("publisher: {e}"))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    for publisher in &mut publishers {
        settled(publisher).await?;
    }
    Ok((total, publishers))
}

/// Publishes `total` messages to everyone at `--all-rate`.
async fn publish_to_all(
    common: &Common,
    args: &FanoutArgs,
    target: &Target,
    total: u64,
) -> Result<(u64, Option<Client>), String> {
    if total == 0 {
        return Ok((0, None));
    }
    let slot = args.subscribers + args.slow_consumers + 1 + common.url.len();
    let mut client = publisher(common, target, slot).await?;
    let padding = "x".repeat(args.size.saturating_sub(40));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.all_rate));
    for seq in 0..total {
        ticker.tick().await;
        let t = now_ns();
        let body = format!(
            r#"["publish",{{"room":null,"payload":{{"t":{t},"a":{seq},"p":"{padding}"}}}}]"#
        );
        client
            .emit(&body)
            .await
            .map_err(|e| format!("publisher to everyone: {e}"))?;
    }
    settled(&mut client).await?;
    Ok((total, Some(client)))
}

/// Reads what the slow consumers left unread: those whose stream ends with
/// a close were cut off by the server.
async fn was_cut(slow: Vec<Client>) -> usize {
    let mut cut = 0;
    for mut client in slow {
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match client.next().await {
                    Ok(Incoming::Closed) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if drained.unwrap_or(false) {
            cut += 1;
        }
    }
    cut
}
