//! Broadcast to every socket of a namespace on one node, for 1k and 10k
//! recipients: the packet is encoded once and its bytes shared, so the
//! cost per recipient is what the server adds (queueing for the socket).
//! Recipients are in-process polling sessions: no sockets, no syscalls.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use switchyard_benches::sessions;
use switchyard_core::{ServerConfig, SocketIo, object};

/// Emits per measured batch; queues are drained between batches.
const BATCH: u64 = 50;

fn broadcast(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("broadcast");
    group.sample_size(20);
    for recipients in [1_000usize, 10_000] {
        let io = runtime.block_on(async { SocketIo::new(ServerConfig::default()) });
        let uris = runtime.block_on(sessions::connect(&io, recipients));
        let payload = object! { "room" => "all", "payload" => "x".repeat(100), "ts" => 1u64 };
        group.throughput(Throughput::Elements(recipients as u64));
        group.bench_function(BenchmarkId::new("emit_to_all", recipients), |b| {
            b.iter_custom(|iterations| {
                let mut measured = Duration::ZERO;
                let mut left = iterations;
                while left > 0 {
                    let n = left.min(BATCH);
                    let started = Instant::now();
                    for _ in 0..n {
                        let _ = io.emit("msg", &payload);
                    }
                    measured += started.elapsed();
                    runtime.block_on(sessions::drain(&io, &uris));
                    left -= n;
                }
                measured
            })
        });
    }
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
