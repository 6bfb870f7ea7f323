//! Joins over a broker whose subscriptions are slow or refused: a join
//! resolves only once the broker confirmed what it needed, joins of a room
//! on its way wait for the same confirmation, and a refused subscription is
//! reported, not silently taken as done.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_cluster::conformance::{Node, client, connect, start_nodes};
use switchyard_cluster::{Broker, MemoryBus};
use switchyard_core::JoinError;

async fn cluster(bus: &MemoryBus) -> Vec<Node> {
    let bus = bus.clone();
    let connect = connect(move |_prefix| {
        let bus = bus.clone();
        async move {
            let (broker, incoming) = bus.connect();
            (Arc::new(broker) as Arc<dyn Broker>, incoming)
        }
    });
    start_nodes(&connect, 2).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_waits_for_a_slow_bind_and_then_hears_every_broadcast() {
    let bus = MemoryBus::new();
    let nodes = cluster(&bus).await;
    let mut first = client(&nodes[1], &[]).await;
    let mut second = client(&nodes[1], &[]).await;
    let socket = |c: &switchyard_cluster::conformance::client::TestClient| {
        nodes[1].io.of("/").socket(&c.sid).unwrap()
    };
    bus.set_subscribe_delay(Duration::from_millis(300));
    let started = Instant::now();
    let joining = socket(&first).join("slow");
    // The room is on its way: a second member waits for the same bind.
    let also = socket(&second).join("slow");
    joining.await.unwrap();
    also.await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "resolved before the broker confirmed"
    );
    // Broadcast from the other node the moment the joins resolved.
    nodes[0].io.to("slow").emit("m", &1).unwrap();
    assert_eq!(first.expect("m").await, vec![json!(1)]);
    assert_eq!(second.expect("m").await, vec![json!(1)]);
    // A room this node already hears resolves at once.
    let third = client(&nodes[1], &[]).await;
    let started = Instant::now();
    socket(&third).join("slow").await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_is_retried_then_reported() {
    let bus = MemoryBus::new();
    let nodes = cluster(&bus).await;
    let mut member = client(&nodes[1], &[]).await;
    let socket = nodes[1].io.of("/").socket(&member.sid).unwrap();
    // Refused twice, then accepted: the retries make the join succeed.
    bus.refuse_subscriptions(2);
    socket.join("flaky").await.unwrap();
    nodes[0].io.to("flaky").emit("m", &1).unwrap();
    assert_eq!(member.expect("m").await, vec![json!(1)]);
    // Refused past every retry: the join says so.
    bus.refuse_subscriptions(100);
    let refused = socket.join("down").await;
    assert!(
        matches!(refused, Err(JoinError::Unconfirmed(_))),
        "{refused:?}"
    );
    bus.refuse_subscriptions(0);
}
