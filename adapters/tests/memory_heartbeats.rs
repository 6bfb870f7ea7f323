//! Heartbeats: a live node is never silent for longer than its heartbeat
//! interval, however its own broadcasts fall between heartbeats (a
//! broadcast postpones the next heartbeat by one interval, no more), so a
//! node is dropped only a heartbeat timeout after it died.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_cluster::conformance::{connect, start_nodes};
use switchyard_cluster::{Broker, Channel, MemoryBus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_says_something_at_least_once_per_heartbeat_interval() {
    // The interval the conformance nodes use.
    let interval = Duration::from_millis(300);
    let bus = MemoryBus::new();
    // A bare broker hears what the node says to every node.
    let (tap, mut heard) = bus.connect();
    tap.subscribe(vec![Channel::Namespace("/".into())])
        .await
        .unwrap();
    let node_bus = bus.clone();
    let connect = connect(move |_prefix| {
        let bus = node_bus.clone();
        async move {
            let (broker, incoming) = bus.connect();
            (Arc::new(broker) as Arc<dyn Broker>, incoming)
        }
    });
    let node = start_nodes(&connect, 1).await.remove(0);
    let times = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let listener = {
        let times = times.clone();
        tokio::spawn(async move {
            while heard.recv().await.is_some() {
                times.lock().push(Instant::now());
            }
        })
    };
    // Broadcasts 1.8 intervals apart fall at every phase of a fixed
    // heartbeat tick: a node that waits for the next tick after an interval
    // of quiet leaves up to twice the interval without a word.
    for _ in 0..7 {
        tokio::time::sleep(interval * 9 / 5).await;
        node.io.emit("m", &1).unwrap();
    }
    tokio::time::sleep(interval).await;
    listener.abort();
    let times = times.lock().clone();
    assert!(times.len() > 10, "heard {} messages", times.len());
    let longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    // Slack for a busy test machine, short of the 240 ms more a tick-bound
    // heartbeat leaves here.
    assert!(
        longest <= interval + Duration::from_millis(180),
        "silent for {longest:?} with a heartbeat interval of {interval:?}"
    );
}
