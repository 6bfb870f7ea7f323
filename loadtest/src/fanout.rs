//! `fanout`: subscribers in one room spread over one or more nodes, one
//! publisher at a fixed rate; measures delivery latency, loss, duplicates
//! and order at every subscriber. With `--rooms R`, subscribers are spread
//! over R rooms whose members are each on one node (room k on node k mod
//! N), and message s goes to room s mod R, published through node
//! (k + 1) mod N: the traffic that interest routing keeps off the others.

use crate::client::{Client, Incoming, Target, Transport, number_after};
use crate::server::{CpuWindow, ServerCpu};
use crate::stats::{Percentiles, histogram};
use crate::{Common, Outcome, progress};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Settings of the fanout scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Subscribers, spread round-robin over the URLs (over the rooms with `--rooms`).
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Messages per second from the publisher.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
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
    /// Messages published.
    pub published: u64,
    /// Deliveries expected (published × subscribers).
    pub expected: u64,
    /// Distinct deliveries.
    pub delivered: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Deliveries seen twice or more.
    pub duplicates: u64,
    /// Deliveries older than one already seen by the same subscriber.
    pub out_of_order: u64,
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

struct Seen {
    joined: bool,
    bits: Vec<u64>,
    last: u64,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    latency: Histogram<u64>,
}

impl Seen {
    fn new(total: u64) -> Seen {
        Seen {
            joined: false,
            bits: vec![0; total as usize / 64 + 1],
            last: 0,
            delivered: 0,
            duplicates: 0,
            out_of_order: 0,
            latency: histogram(),
        }
    }

    fn record(&mut self, seq: u64, sent_ns: u64, now_ns: u64) {
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        let Some(slot) = self.bits.get_mut(word) else {
            return;
        };
        if *slot & bit != 0 {
            self.duplicates += 1;
            return;
        }
        *slot |= bit;
        self.delivered += 1;
        if seq < self.last {
            self.out_of_order += 1;
        }
        self.last = self.last.max(seq);
        let _ = self
            .latency
            .record((now_ns.saturating_sub(sent_ns) / 1000).max(1));
    }
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
    let human = format!(
        "fanout: {} subscribers{}{}, {} published, {}/{} delivered ({:.0}/s), lost {} ({:.4}%), duplicates {}, out of order {}\nlatency {}{}{slow}",
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
    let clock = Instant::now();
    let total = (args.rate * args.duration).round() as u64;
    let rooms = args.rooms.max(1);
    let room_name = |k: usize| {
        if rooms == 1 {
            args.room.clone()
        } else {
            format!("{}-{k}", args.room)
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let joined = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.subscribers as u64, "subscribers");

    let mut tasks = Vec::with_capacity(args.subscribers);
    let pause = Duration::from_secs_f64(1.0 / args.connect_rate.max(1.0));
    for i in 0..args.subscribers {
        let target = if rooms == 1 {
            targets[i % targets.len()].clone()
        } else {
            targets[(i % rooms) % targets.len()].clone()
        };
        let source = common.source_address(i);
        let transport = common.transport(i);
        let room = room_name(i % rooms);
        let (joined, failed, mut stop) = (joined.clone(), failed.clone(), stop_rx.clone());
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Seen::new(total);
            let mut client = match subscribe(&target, source, transport, &room).await {
                Ok(client) => client,
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    crate::say(&bar, format!("subscriber {i}: {e}"));
                    return seen;
                }
            };
            joined.fetch_add(1, Ordering::Relaxed);
            seen.joined = true;
            bar.inc(1);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    incoming = client.next() => match incoming {
                        Ok(Incoming::Text(text)) if text.starts_with("42[\"msg\"") => {
                            let now = clock.elapsed().as_nanos() as u64;
                            if let (Some(t), Some(s)) = (number_after(&text, "\"t\":"), number_after(&text, "\"s\":")) {
                                seen.record(s, t, now);
                            }
                        }
                        Ok(Incoming::Closed) => {
                            crate::say(&bar, format!("subscriber {i}: closed by the server after {} messages", seen.delivered));
                            break;
                        }
                        Err(e) => {
                            crate::say(&bar, format!("subscriber {i}: {e} after {} messages", seen.delivered));
                            break;
                        }
                        Ok(_) => {}
                    },
                }
            }
            client.close().await;
            seen
        }));
        tokio::time::sleep(pause).await;
    }
    let ready_by = Instant::now() + Duration::from_secs(60);
    while joined.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < args.subscribers
        && Instant::now() < ready_by
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bar.finish_and_clear();
    let mut slow = Vec::with_capacity(args.slow_consumers);
    for i in 0..args.slow_consumers {
        let target = &targets[i % targets.len()];
        let source = common.source_address(args.subscribers + 1 + i);
        match subscribe(target, source, Transport::WebSocket, &args.room).await {
            Ok(client) => slow.push(client),
            Err(e) => return Err(format!("slow consumer {i}: {e}")),
        }
    }

    // Publish at the rate, stamping each message with the shared clock:
    // through the first node, or with several rooms through the node after
    // the one serving the room.
    let mut publishers = Vec::new();
    for (j, target) in targets
        .iter()
        .enumerate()
        .take(if rooms == 1 { 1 } else { targets.len() })
    {
        let publisher = Client::connect(
            target,
            common.source_address(args.subscribers + args.slow_consumers + 1 + j),
            Transport::WebSocket,
            "/",
            None,
        )
        .await
        .map_err(|e| e.0)?;
        publishers.push(publisher);
    }
    let padding = "x".repeat(args.size.saturating_sub(40));
    let bar = progress(common, total, "published");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    let cpu = CpuWindow::start(&common.server_pid);
    let started = Instant::now();
    for seq in 0..total {
        ticker.tick().await;
        let t = clock.elapsed().as_nanos() as u64;
        let k = (seq % rooms as u64) as usize;
        let body = format!(
            r#"["publish",{{"room":"{}","payload":{{"t":{t},"s":{seq},"p":"{padding}"}}}}]"#,
            room_name(k)
        );
        let through = (k + 1) % publishers.len();
        publishers[through]
            .emit(&body)
            .await
            .map_err(|e| format!("publisher: {e}"))?;
        bar.inc(1);
    }
    let window = started.elapsed();
    bar.finish_and_clear();
    tokio::time::sleep(Duration::from_secs_f64(args.drain)).await;
    let mut server = cpu.finish(0);
    let _ = stop_tx.send(true);
    for publisher in publishers {
        publisher.close().await;
    }

    let mut latency = histogram();
    let (mut delivered, mut duplicates, mut out_of_order, mut expected) = (0, 0, 0, 0);
    // Room k gets the messages s with s mod R = k.
    let per_room = |k: usize| total / rooms as u64 + u64::from((k as u64) < total % rooms as u64);
    for (i, task) in tasks.into_iter().enumerate() {
        if let Ok(seen) = task.await {
            if seen.joined {
                expected += per_room(i % rooms);
            }
            delivered += seen.delivered;
            duplicates += seen.duplicates;
            out_of_order += seen.out_of_order;
            let _ = latency.add(&seen.latency);
        }
    }
    let slow_consumers = slow.len();
    let slow_consumers_cut = was_cut(slow).await;
    let subscribers = joined.load(Ordering::Relaxed);
    if let Some(server) = &mut server {
        server.cpu_us_per_unit =
            (delivered > 0).then(|| server.cpu_seconds * 1e6 / delivered as f64);
    }
    Ok(FanoutReport {
        scenario: "fanout",
        subscribers,
        rooms,
        connect_failures: failed.load(Ordering::Relaxed),
        published: total,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates,
        out_of_order,
        loss_ratio: if expected == 0 {
            0.0
        } else {
            expected.saturating_sub(delivered) as f64 / expected as f64
        },
        deliveries_per_sec: delivered as f64 / window.as_secs_f64().max(1e-9),
        latency_us: Percentiles::of(&latency),
        server,
        slow_consumers,
        slow_consumers_cut,
    })
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

async fn subscribe(
    target: &Target,
    source: Option<std::net::IpAddr>,
    transport: Transport,
    room: &str,
) -> Result<Client, String> {
    let mut client = Client::connect(target, source, transport, "/", None)
        .await
        .map_err(|e| e.0)?;
    let ack = client
        .emit_with_ack(&format!(r#"["join","{room}"]"#), Duration::from_secs(10))
        .await
        .map_err(|e| e.0)?;
    if ack != "[true]" {
        return Err(format!("join refused: {ack}"));
    }
    Ok(client)
}
