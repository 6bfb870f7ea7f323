//! A node's cluster receive path: broadcasts of several publishers, encoded
//! as other nodes send them, pushed through the real dispatch (decode, then
//! delivery to the namespace's local sockets), with one dispatch worker
//! (every message on one task, one core) and with one worker per runtime
//! thread (publishers spread over the cores), on a 2-thread runtime.
//! Recipients are in-process polling sessions: no sockets, no syscalls.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_benches::{sessions, small_event};
use switchyard_cluster::message::{Body, ClusterMessage};
use switchyard_cluster::{Cluster, ClusterConfig, Delivery, MemoryBus, NativeFormat};
use switchyard_cluster::{Destination, WireFormat};
use switchyard_core::{BroadcastOptions, Room, ServerConfig, SocketIo, Value};
use tokio::runtime::Runtime;
use tokio::sync::{Notify, mpsc};

/// Nodes whose broadcasts arrive interleaved.
const PUBLISHERS: u64 = 8;
/// Broadcasts per measured batch (half to a room, half to the namespace).
const BATCH: u64 = 1_000;

/// The messages of one batch as the broker hands them over: `BATCH`
/// broadcasts, the publishers taking turns, then one server-side emit per
/// publisher, which arrives after all its broadcasts were delivered.
fn batch() -> Vec<Delivery> {
    let room = Room::from("r");
    let delivery = |uid: String, body: Body, to: Destination<'_>| {
        let message = ClusterMessage {
            uid: uid.into(),
            nsp: "/".into(),
            body,
        };
        let (channel, payload) = NativeFormat
            .encode(&message, to)
            .expect("native encodes all");
        Delivery {
            channel: channel.to_string(),
            payload,
        }
    };
    let mut deliveries: Vec<Delivery> = (0..BATCH)
        .map(|i| {
            let (rooms, to) = match i % 2 {
                0 => (vec![room.clone()], Destination::Room(&room)),
                _ => (vec![], Destination::Everyone),
            };
            let body = Body::Broadcast {
                packet: small_event(),
                opts: BroadcastOptions {
                    rooms,
                    ..Default::default()
                },
                request_id: None,
            };
            delivery(format!("publisher-{}", i % PUBLISHERS), body, to)
        })
        .collect();
    deliveries.extend((0..PUBLISHERS).map(|p| {
        let done = Body::ServerSideEmit {
            event: "done".into(),
            args: vec![],
            request_id: None,
        };
        delivery(format!("publisher-{p}"), done, Destination::Everyone)
    }));
    deliveries
}

/// A node under test and how the bench drives it.
struct Node {
    /// Where the bench hands the node what the broker would.
    incoming: mpsc::Sender<Delivery>,
    io: SocketIo,
    /// The polling URIs of its local sockets.
    uris: Vec<String>,
    /// `done` emits heard in this batch.
    done: Arc<AtomicU64>,
    /// Told when every publisher's `done` was heard.
    finished: Arc<Notify>,
}

/// A node with `workers` dispatch workers and `sockets` local sockets in
/// room `r`.
fn node(runtime: &Runtime, workers: usize, sockets: usize) -> Node {
    runtime.block_on(async {
        let (broker, _own_incoming) = MemoryBus::new().connect();
        let (incoming, deliveries) = mpsc::channel(8_192);
        let cluster = Cluster::with_dispatch_workers(
            Arc::new(broker),
            deliveries,
            ClusterConfig::default(),
            workers,
        );
        let io = SocketIo::new(ServerConfig::default().adapter(cluster));
        let done = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(Notify::new());
        let (heard, tell) = (done.clone(), finished.clone());
        io.of("/").on_server_event("done", move |_: Vec<Value>, _| {
            if heard.fetch_add(1, Ordering::AcqRel) + 1 == PUBLISHERS {
                tell.notify_one();
            }
            async {}
        });
        let uris = sessions::connect(&io, sockets).await;
        for socket in io.of("/").sockets() {
            socket.join("r").await.expect("a room within the limits");
        }
        Node {
            incoming,
            io,
            uris,
            done,
            finished,
        }
    })
}

/// Pushes `iterations` batches through the node; the time from the first
/// message of each batch to the last delivery (queues drained in between).
fn run_batches(
    runtime: &Runtime,
    node: &Node,
    deliveries: &[Delivery],
    iterations: u64,
) -> Duration {
    let mut measured = Duration::ZERO;
    for _ in 0..iterations {
        let batch = deliveries.to_vec();
        node.done.store(0, Ordering::Release);
        let started = Instant::now();
        runtime.block_on(async {
            for delivery in batch {
                node.incoming.send(delivery).await.expect("dispatch runs");
            }
            node.finished.notified().await;
        });
        measured += started.elapsed();
        runtime.block_on(sessions::drain(&node.io, &node.uris));
    }
    measured
}

fn receive(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let all = runtime.block_on(async { tokio::runtime::Handle::current().metrics().num_workers() });
    let deliveries = batch();
    let mut group = c.benchmark_group("cluster_receive");
    group.sample_size(20);
    group.throughput(Throughput::Elements(BATCH));
    // One socket: decoding dominates; twenty: delivery does.
    for sockets in [1, 20] {
        for workers in [1, all] {
            let node = node(&runtime, workers, sockets);
            let name = format!("sockets/{sockets}/workers/{workers}");
            group.bench_function(name, |b| {
                b.iter_custom(|iterations| run_batches(&runtime, &node, &deliveries, iterations))
            });
            let left = node.io.of("/").socket_count();
            assert_eq!(left, sockets, "no socket fell behind");
        }
    }
    group.finish();
}

criterion_group!(benches, receive);
criterion_main!(benches);
