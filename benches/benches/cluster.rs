//! Cluster messages: a room broadcast encoded and decoded in Switchyard's
//! own format and in Node's Redis adapter format; encoded from an owned
//! message (`encode/<format>/…`) and from the borrowed broadcast the
//! adapter sends (`encode/<format>-borrowed/…`); and a heartbeat decoded,
//! for what reading broadcasts apart costs other messages.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchyard_benches::{binary_event, small_event};
use switchyard_cluster::message::{Body, BroadcastKind, BroadcastRef, ClusterMessage};
use switchyard_cluster::{Delivery, Destination, NativeFormat, WireFormat};
use switchyard_core::BroadcastOptions;
use switchyard_redis::NodeFormat;

fn message(packet: switchyard_core::protocol::Packet) -> ClusterMessage {
    ClusterMessage {
        uid: "0123456789abcdef".into(),
        nsp: "/".into(),
        body: Body::Broadcast {
            packet,
            opts: BroadcastOptions {
                rooms: vec!["r1".into()],
                ..Default::default()
            },
            request_id: None,
        },
    }
}

/// The broadcast of `message` as the adapter hands it to the format.
fn borrowed(message: &ClusterMessage) -> BroadcastRef<'_> {
    let Body::Broadcast { packet, opts, .. } = &message.body else {
        unreachable!("message() makes broadcasts");
    };
    BroadcastRef {
        uid: &message.uid,
        nsp: &message.nsp,
        packet,
        opts,
        kind: BroadcastKind::Plain,
    }
}

fn formats(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster");
    group.throughput(Throughput::Elements(1));
    let node = NodeFormat::new("socket.io", false);
    let formats: [(&str, &dyn WireFormat, &str); 2] = [
        ("native", &NativeFormat, "socket.io-cluster#/#r1#"),
        ("node-redis", &node, "socket.io#/#r1#"),
    ];
    for (kind, packet) in [("small", small_event()), ("binary", binary_event())] {
        let message = message(packet);
        let room = "r1".into();
        for (name, format, channel) in formats {
            group.bench_function(format!("encode/{name}/{kind}"), |b| {
                b.iter(|| format.encode(black_box(&message), Destination::Room(&room)))
            });
            let broadcast = borrowed(&message);
            group.bench_function(format!("encode/{name}-borrowed/{kind}"), |b| {
                b.iter(|| format.encode_broadcast(black_box(&broadcast), Destination::Room(&room)))
            });
            let Some((_, bytes)) = format.encode(&message, Destination::Room(&room)) else {
                continue;
            };
            let delivery = Delivery {
                channel: channel.to_owned(),
                payload: bytes,
            };
            group.bench_function(format!("decode/{name}/{kind}"), |b| {
                b.iter(|| format.decode(black_box(&delivery)))
            });
        }
    }
    // Not a broadcast: what trying the broadcast fast path first costs.
    let heartbeat = ClusterMessage {
        uid: "0123456789abcdef".into(),
        nsp: "/".into(),
        body: Body::Heartbeat,
    };
    let delivery = Delivery {
        channel: "socket.io-cluster#/#".to_owned(),
        payload: heartbeat.encode(),
    };
    group.bench_function("decode/native/heartbeat", |b| {
        b.iter(|| NativeFormat.decode(black_box(&delivery)))
    });
    group.finish();
}

criterion_group!(benches, formats);
criterion_main!(benches);
