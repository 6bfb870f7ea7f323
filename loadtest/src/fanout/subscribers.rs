//! The subscribers of a fanout run: connect, join, read and count what
//! arrives, in one process or in one worker of several.

use super::clock::now_ns;
use super::settings::FanoutArgs;
use crate::client::{Client, Incoming, Target, Transport, number_after};
use crate::stats::histogram;
use crate::{Common, progress};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One stream of numbered messages as a subscriber saw it.
struct Stream {
    bits: Vec<u64>,
    last: Option<u64>,
}

impl Stream {
    fn new(total: u64) -> Stream {
        Stream {
            bits: vec![0; total as usize / 64 + 1],
            last: None,
        }
    }

    fn has(&self, seq: u64) -> bool {
        self.bits
            .get((seq / 64) as usize)
            .is_some_and(|word| word & (1 << (seq % 64)) != 0)
    }
}

/// At most this many missing sequence numbers are named in a report.
const MISSING_NAMED: usize = 20;

/// What one subscriber saw: the room stream (`"s"`) and the stream to
/// everyone (`"a"`).
struct Seen {
    joined: bool,
    room: Stream,
    all: Stream,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    latency: Histogram<u64>,
}

impl Seen {
    fn new(total: u64, total_all: u64) -> Seen {
        Seen {
            joined: false,
            room: Stream::new(total),
            all: Stream::new(total_all),
            delivered: 0,
            duplicates: 0,
            out_of_order: 0,
            latency: histogram(),
        }
    }

    fn record(&mut self, to_all: bool, seq: u64, sent_ns: u64, now_ns: u64) {
        let stream = if to_all {
            &mut self.all
        } else {
            &mut self.room
        };
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        let Some(slot) = stream.bits.get_mut(word) else {
            return;
        };
        if *slot & bit != 0 {
            self.duplicates += 1;
            return;
        }
        *slot |= bit;
        self.delivered += 1;
        if stream.last.is_some_and(|last| seq < last) {
            self.out_of_order += 1;
        }
        stream.last = Some(stream.last.map_or(seq, |last| last.max(seq)));
        let _ = self
            .latency
            .record((now_ns.saturating_sub(sent_ns) / 1000).max(1));
    }
}

/// How many messages were published, to rooms and to everyone.
#[derive(Clone, Copy, Debug)]
pub struct Totals {
    /// Room messages (message s to room s mod R).
    pub rooms: u64,
    /// Messages to everyone.
    pub all: u64,
}

/// What a set of subscribers saw, mergeable across workers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    pub joined: usize,
    pub failed: usize,
    pub expected: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Latency in µs as (value, count) pairs.
    pub latency: Vec<(u64, u64)>,
    /// Some room messages (sequence numbers) a joined subscriber missed.
    pub missing: Vec<u64>,
    /// Some messages to everyone a joined subscriber missed.
    pub missing_to_all: Vec<u64>,
}

impl Tally {
    /// Adds another worker's tally.
    pub fn merge(&mut self, other: Tally) {
        self.joined += other.joined;
        self.failed += other.failed;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.latency.extend(other.latency);
        for (mine, theirs) in [
            (&mut self.missing, other.missing),
            (&mut self.missing_to_all, other.missing_to_all),
        ] {
            mine.extend(theirs);
            mine.sort_unstable();
            mine.dedup();
            mine.truncate(MISSING_NAMED);
        }
    }

    /// The latency histogram.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = histogram();
        for &(value, count) in &self.latency {
            let _ = h.record_n(value, count);
        }
        h
    }
}

/// Subscribers reading until told to stop.
pub struct Subscribers {
    tasks: Vec<(usize, JoinHandle<Seen>)>,
    joined: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    rooms: usize,
}

/// The room of subscriber `i` (all in one room unless `--rooms`).
pub fn room_name(args: &FanoutArgs, k: usize) -> String {
    if args.rooms.max(1) == 1 {
        args.room.clone()
    } else {
        format!("{}-{k}", args.room)
    }
}

/// Connects subscribers `indices` (of `args.subscribers`) at `rate` per
/// second; each expects at most `totals` messages.
pub async fn start(
    common: &Common,
    args: &FanoutArgs,
    targets: &[Target],
    indices: Vec<usize>,
    rate: f64,
    totals: Totals,
) -> Subscribers {
    let rooms = args.rooms.max(1);
    let (stop, stop_rx) = watch::channel(false);
    let joined = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, indices.len() as u64, "subscribers");
    let pause = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut tasks = Vec::with_capacity(indices.len());
    for i in indices {
        // Room k's members are all on node k mod N.
        let target = targets[(i % rooms) % targets.len()].clone();
        let (source, transport) = (common.source_address(i), common.transport(i));
        let room = room_name(args, i % rooms);
        let (joined, failed, mut stop) = (joined.clone(), failed.clone(), stop_rx.clone());
        let bar = bar.clone();
        tasks.push((
            i,
            tokio::spawn(async move {
                let mut seen = Seen::new(totals.rooms, totals.all);
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
                read(&mut client, &mut seen, &mut stop, i, &bar).await;
                client.close().await;
                seen
            }),
        ));
        tokio::time::sleep(pause).await;
    }
    bar.finish_and_clear();
    Subscribers {
        tasks,
        joined,
        failed,
        stop,
        rooms,
    }
}

async fn read(
    client: &mut Client,
    seen: &mut Seen,
    stop: &mut watch::Receiver<bool>,
    i: usize,
    bar: &indicatif::ProgressBar,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            incoming = client.next() => match incoming {
                Ok(Incoming::Text(text)) if text.starts_with("42[\"msg\"") => {
                    let now = now_ns();
                    let Some(t) = number_after(&text, "\"t\":") else { continue };
                    if let Some(a) = number_after(&text, "\"a\":") {
                        seen.record(true, a, t, now);
                    } else if let Some(s) = number_after(&text, "\"s\":") {
                        seen.record(false, s, t, now);
                    }
                }
                Ok(Incoming::Closed) => {
                    crate::say(bar, format!("subscriber {i}: closed by the server after {} messages", seen.delivered));
                    return;
                }
                Err(e) => {
                    crate::say(bar, format!("subscriber {i}: {e} after {} messages", seen.delivered));
                    return;
                }
                Ok(_) => {}
            },
        }
    }
}

impl Subscribers {
    /// Waits until every subscriber joined or failed (at most `limit`).
    pub async fn ready(&self, limit: Duration) -> (usize, usize) {
        let by = Instant::now() + limit;
        loop {
            let (joined, failed) = (
                self.joined.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
            );
            if joined + failed >= self.tasks.len() || Instant::now() > by {
                return (joined, failed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops reading and counts what arrived against what was published.
    pub async fn finish(self, totals: Totals) -> Tally {
        let _ = self.stop.send(true);
        let rooms = self.rooms as u64;
        // Room k gets the messages s with s mod R = k.
        let per_room = |k: u64| totals.rooms / rooms + u64::from(k < totals.rooms % rooms);
        let mut tally = Tally::default();
        let mut latency = histogram();
        for (i, task) in self.tasks {
            let Ok(seen) = task.await else { continue };
            if seen.joined {
                tally.joined += 1;
                tally.expected += per_room(i as u64 % rooms) + totals.all;
                let k = i as u64 % rooms;
                let room = (k..totals.rooms).step_by(rooms as usize);
                missed(&mut tally.missing, room.filter(|&s| !seen.room.has(s)));
                missed(
                    &mut tally.missing_to_all,
                    (0..totals.all).filter(|&s| !seen.all.has(s)),
                );
            } else {
                tally.failed += 1;
            }
            tally.delivered += seen.delivered;
            tally.duplicates += seen.duplicates;
            tally.out_of_order += seen.out_of_order;
            let _ = latency.add(&seen.latency);
        }
        tally.latency = latency
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        tally
    }
}

/// Adds missed sequence numbers to a short, sorted list.
fn missed(list: &mut Vec<u64>, seqs: impl Iterator<Item = u64>) {
    for seq in seqs {
        if list.len() >= MISSING_NAMED {
            return;
        }
        if let Err(at) = list.binary_search(&seq) {
            list.insert(at, seq);
        }
    }
}

/// A WebSocket (or polling) client joined to `room`.
pub async fn subscribe(
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
