//! Dispatch on several workers: each publisher's messages (room and
//! namespace broadcasts, requests) reach the adapter in the order sent;
//! messages whose publisher the format cannot peek still arrive, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::Cluster;
use crate::broker::{BoxFuture, Broker, BrokerError, BrokerStats, Channel, Delivery, NodeId};
use crate::conformance::client::{TestClient, WAIT};
use crate::conformance::{Node, client, test_config};
use crate::format::{Destination, Membership, NativeFormat, WireFormat};
use crate::memory::{MemoryBroker, MemoryBus};
use crate::message::{Body, ClusterMessage, MessageError};
use bytes::Bytes;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::protocol::Packet;
use switchyard_core::{BroadcastOptions, ServerConfig, SocketIo, Value};

/// Messages each publisher sends: a third each of room broadcasts,
/// namespace broadcasts and server-side emits.
const PER_PUBLISHER: u64 = 150;

/// What publisher `p` sends as its `i`-th message, and on which channel.
fn nth_message(p: u64, i: u64) -> (Channel, ClusterMessage) {
    let args = vec![Value::from(p), Value::from(i)];
    let broadcast = |rooms: Vec<switchyard_core::Room>| Body::Broadcast {
        packet: Packet::event("/", "n", args.clone()),
        opts: BroadcastOptions {
            rooms,
            ..Default::default()
        },
        request_id: None,
    };
    let (channel, body) = match i % 3 {
        0 => (
            Channel::Room {
                ns: "/".into(),
                room: "r".into(),
            },
            broadcast(vec!["r".into()]),
        ),
        1 => (Channel::Namespace("/".into()), broadcast(vec![])),
        _ => (
            Channel::Namespace("/".into()),
            Body::ServerSideEmit {
                event: "seq".into(),
                args: args.clone(),
                request_id: None,
            },
        ),
    };
    let message = ClusterMessage {
        uid: format!("publisher-{p}").into(),
        nsp: "/".into(),
        body,
    };
    (channel, message)
}

/// Starts a node with `workers` dispatch workers over `broker`, with one
/// client in room `r`; records the server-side emits it hears.
async fn node(
    broker: Arc<dyn Broker>,
    incoming: tokio::sync::mpsc::Receiver<Delivery>,
    workers: usize,
) -> (Node, TestClient, Arc<Mutex<Vec<(u64, u64)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cluster = Cluster::with_dispatch_workers(broker, incoming, test_config(), workers);
    let io = SocketIo::new(ServerConfig::default().adapter(cluster.clone()));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let record = heard.clone();
    // Recorded when the adapter hands the event over, before any await.
    io.of("/")
        .on_server_event("seq", move |args: Vec<Value>, _| {
            let n = |at: usize| args.get(at).and_then(Value::as_u64).unwrap();
            record.lock().push((n(0), n(1)));
            async {}
        });
    tokio::spawn(io.listen_on(listener).unwrap().wait());
    let node = Node {
        io,
        cluster,
        addr,
        prefix: String::new(),
    };
    let client = client(&node, &["r"]).await;
    let started = Instant::now();
    while !node
        .cluster
        .0
        .adapters
        .read()
        .values()
        .all(|a| a.upgrade().is_some_and(|a| a.is_subscribed()))
    {
        assert!(started.elapsed() < WAIT, "subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (node, client, heard)
}

/// Each publisher's `i`s in the order they arrived.
fn by_publisher(arrived: impl IntoIterator<Item = (u64, u64)>) -> HashMap<u64, Vec<u64>> {
    let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
    for (p, i) in arrived {
        seen.entry(p).or_default().push(i);
    }
    seen
}

/// Sends `publishers` × [`PER_PUBLISHER`] messages, interleaved, and checks
/// that each publisher's broadcasts reach the client and its requests the
/// namespace in the order sent.
async fn publishers_keep_their_order(
    bus: &MemoryBus,
    node: Node,
    mut client: TestClient,
    heard: Arc<Mutex<Vec<(u64, u64)>>>,
    publishers: u64,
) {
    for i in 0..PER_PUBLISHER {
        for p in 0..publishers {
            let (channel, message) = nth_message(p, i);
            bus.inject(&channel, message.encode());
        }
    }
    let broadcasts = publishers * (PER_PUBLISHER - PER_PUBLISHER / 3);
    let mut delivered = Vec::new();
    for _ in 0..broadcasts {
        let event = tokio::time::timeout(WAIT, client.event())
            .await
            .expect("every broadcast");
        assert_eq!(event.name, "n");
        let n = |at: usize| event.args[at].as_u64().unwrap();
        delivered.push((n(0), n(1)));
    }
    let started = Instant::now();
    while (heard.lock().len() as u64) < publishers * (PER_PUBLISHER / 3) {
        assert!(started.elapsed() < WAIT, "every server-side emit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = |kinds: &[u64]| -> Vec<u64> {
        (0..PER_PUBLISHER)
            .filter(|i| kinds.contains(&(i % 3)))
            .collect()
    };
    let delivered = by_publisher(delivered);
    let requests = by_publisher(heard.lock().clone());
    for p in 0..publishers {
        assert_eq!(
            delivered[&p],
            sent(&[0, 1]),
            "publisher {p}'s broadcasts in order"
        );
        assert_eq!(
            requests[&p],
            sent(&[2]),
            "publisher {p}'s requests in order"
        );
    }
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_publishers_messages_arrive_in_order_on_several_workers() {
    let bus = MemoryBus::new();
    let (broker, incoming) = bus.connect();
    let (node, client, heard) = node(Arc::new(broker), incoming, 4).await;
    publishers_keep_their_order(&bus, node, client, heard, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_the_format_cannot_peek_share_one_worker_in_order() {
    let bus = MemoryBus::new();
    let (broker, incoming) = bus.connect();
    let broker = Arc::new(Unpeekable(broker));
    let message = nth_message(0, 0).1;
    let delivery = Delivery {
        channel: "/#".into(),
        payload: message.encode(),
    };
    assert_eq!(broker.wire_format().publisher(&delivery), None);
    let (node, client, heard) = node(broker, incoming, 4).await;
    publishers_keep_their_order(&bus, node, client, heard, 3).await;
}

#[test]
fn the_native_format_peeks_the_uid_its_decode_reads() {
    let (_, message) = nth_message(7, 1);
    let delivery = Delivery {
        channel: "/#".into(),
        payload: message.encode(),
    };
    let peeked = NativeFormat.publisher(&delivery).unwrap();
    assert_eq!(peeked, NativeFormat.decode(&delivery).unwrap().uid.as_str());
    let garbage = Delivery {
        channel: "/#".into(),
        payload: Bytes::from_static(&[0x81, 0xa3, b'u', b'i', b'd', 0x05]),
    };
    assert_eq!(NativeFormat.publisher(&garbage), None);
}

/// A memory broker whose format cannot tell who published a message.
struct Unpeekable(MemoryBroker);

/// The native format without its publisher peek.
struct NoPeek;

impl WireFormat for NoPeek {
    fn name(&self) -> &'static str {
        "no-peek"
    }
    fn membership(&self) -> Membership {
        NativeFormat.membership()
    }
    fn channels(&self, ns: &SmolStr, node: &NodeId) -> Vec<Channel> {
        NativeFormat.channels(ns, node)
    }
    fn encode(&self, message: &ClusterMessage, to: Destination<'_>) -> Option<(Channel, Bytes)> {
        NativeFormat.encode(message, to)
    }
    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError> {
        NativeFormat.decode(delivery)
    }
}

impl Broker for Unpeekable {
    fn kind(&self) -> &'static str {
        "unpeekable"
    }
    fn publish(&self, channel: &Channel, payload: Bytes) {
        self.0.publish(channel, payload)
    }
    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.0.subscribe(channels)
    }
    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.0.unsubscribe(channels)
    }
    fn stats(&self) -> BrokerStats {
        self.0.stats()
    }
    fn close(&self) -> BoxFuture<()> {
        self.0.close()
    }
    fn wire_format(&self) -> Arc<dyn WireFormat> {
        Arc::new(NoPeek)
    }
}
