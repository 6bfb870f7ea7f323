//! `fanout`: subscribers in one room spread over one or more nodes, one
//! publisher at a fixed rate; measures delivery latency, loss, duplicates
//! and order at every subscriber. With `--rooms R`, subscribers are spread
//! over R rooms whose members are each on one node (room k on node k mod
//! N), and message s goes to room s mod R, published through node
//! (k + 1) mod N: the traffic that interest routing keeps off the others.
//! With `--all-rate`, a second publisher broadcasts to everyone (a publish
//! with no room) at that rate. With `--workers N`, the subscribers live in
//! N worker processes (see `workers`).

mod clock;
mod publishers;
mod report;
mod settings;
mod subscribers;
mod workers;

pub use settings::FanoutArgs;

use crate::client::{Client, Incoming, Target, Transport};
use crate::server::CpuWindow;
use crate::{Common, Outcome};
use publishers::{publish_to_all, publish_to_rooms};
use report::FanoutReport;
use std::time::{Duration, Instant};
use subscribers::{Subscribers, Tally, Totals, subscribe};

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

/// Runs the scenario.
pub async fn run(common: &Common, args: &FanoutArgs) -> Result<Outcome, String> {
    measure(common, args).await?.outcome()
}

async fn measure(common: &Common, args: &FanoutArgs) -> Result<FanoutReport, String> {
    let targets = common.targets().await?;
    let totals = planned(args);
    let workers = args.workers.max(1);
    if workers > 1 && args.slow_consumers > 0 {
        return Err("--slow-consumers needs one process (no --workers)".into());
    }
    let (local, spawned) = start_subscribers(common, args, &targets, workers, totals).await?;
    let slow = connect_slow_consumers(common, args, &targets).await?;

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
    let delivered = tally.delivered;
    if let Some(server) = &mut server {
        server.cpu_us_per_unit =
            (delivered > 0).then(|| server.cpu_seconds * 1e6 / delivered as f64);
    }
    Ok(FanoutReport::new(
        args,
        tally,
        published,
        workers,
        window,
        server,
        (slow_consumers, slow_consumers_cut),
    ))
}

/// Starts the subscribers and waits until they joined: in this process,
/// or in worker processes (started here, or waited for on `--listen`).
async fn start_subscribers(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    workers: usize,
    totals: Totals,
) -> Result<(Option<Subscribers>, Vec<workers::Worker>), String> {
    let limit = args.ready_limit(args.subscribers);
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
        let subs = subscribers::start(common, args, targets, all, args.connect_rate, totals).await;
        subs.ready(limit).await;
        local = Some(subs);
    }
    Ok((local, spawned))
}

/// Connects the `--slow-consumers`, which join the room and never read.
async fn connect_slow_consumers(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
) -> Result<Vec<Client>, String> {
    let mut slow = Vec::with_capacity(args.slow_consumers);
    for i in 0..args.slow_consumers {
        let target = &targets[i % targets.len()];
        let source = common.source_address(args.subscribers + 1 + i);
        match subscribe(target, source, Transport::WebSocket, &args.room).await {
            Ok(client) => slow.push(client),
            Err(e) => return Err(format!("slow consumer {i}: {e}")),
        }
    }
    Ok(slow)
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
