//! The scenarios of failure: a node that leaves, a node that dies or
//! freezes, and an outage between a node and its broker.

use super::*;
use crate::format::Destination;
use crate::message::{Body, ClusterMessage};

/// A node that closes cleanly says so and is dropped at once, even when
/// its broker connection closes right after (as at process exit).
pub async fn a_closing_node_is_dropped_at_once(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let started = Instant::now();
    nodes[2].io.close().await;
    nodes[2].cluster.broker().close().await;
    wait_for_members(&nodes[..2], 2).await;
    assert!(
        started.elapsed() < test_config().heartbeat_timeout,
        "dropped before the heartbeat timeout"
    );
}

/// A node that said goodbye stays gone when a message it sent before
/// leaving arrives after its goodbye (brokers keep no order between a
/// node's channels): otherwise every request would wait for its answer
/// until the timeout, for a heartbeat timeout.
pub async fn a_node_that_left_is_not_brought_back_by_a_late_message(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let broker = nodes[2].cluster.broker().clone();
    let format = broker.wire_format();
    if format.membership() != Membership::Heartbeat {
        return;
    }
    nodes[2].io.close().await;
    wait_for_members(&nodes[..2], 2).await;
    let late = ClusterMessage {
        uid: nodes[2].cluster.uid().clone(),
        nsp: "/".into(),
        body: Body::Heartbeat,
    };
    let (channel, bytes) = format
        .encode(&late, Destination::Everyone)
        .expect("a heartbeat is encoded");
    broker.publish(&channel, bytes);
    broker.flush().await;
    settle().await;
    for node in &nodes[..2] {
        assert_eq!(node.io.of("/").server_count().await, 2, "still gone");
    }
    broker.close().await;
}

/// A node that dies (its broker connection gone, no goodbye) is dropped
/// and requests never hang. With heartbeat membership it is dropped after
/// the heartbeat timeout and requests meanwhile return partial results
/// within their timeout; where the broker counts subscribers (Node's Redis
/// format) it is dropped as soon as the broker sees its connection close,
/// and a node that is frozen with its connection open makes requests
/// return partial results within their timeout.
pub async fn a_dead_node_is_dropped_and_requests_do_not_hang(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let _a = client(&nodes[0], &[]).await;
    let _c = client(&nodes[2], &[]).await;
    nodes[2].cluster.broker().close().await;
    let started = Instant::now();
    if nodes[0].cluster.format().membership() == Membership::RequestSubscribers {
        wait_for_members(&nodes[..2], 2).await;
        assert!(
            started.elapsed() < test_config().request_timeout,
            "dropped as its connection closed"
        );
        let (sockets, missing) = fetch_all(&nodes[0]).await;
        assert_eq!((sockets, missing), (1, 0));
        // A frozen node: subscribed, never answering.
        let (frozen, _unread) = connect(nodes[0].prefix.clone()).await;
        let channels = nodes[0]
            .cluster
            .format()
            .channels(&"/".into(), &"frozen".into());
        frozen.subscribe(channels).await.unwrap();
        wait_for_members(&nodes[..2], 3).await;
        let started = Instant::now();
        let (sockets, missing) = fetch_all(&nodes[0]).await;
        let waited = started.elapsed();
        assert!(
            waited <= test_config().request_timeout + Duration::from_secs(1),
            "{waited:?}"
        );
        assert_eq!(
            (sockets, missing),
            (1, 1),
            "the frozen node is reported missing"
        );
        frozen.close().await;
        return;
    }
    let (sockets, missing) = fetch_all(&nodes[0]).await;
    let waited = started.elapsed();
    assert!(
        waited <= test_config().request_timeout + Duration::from_secs(1),
        "{waited:?}"
    );
    assert_eq!(missing, 1, "the dead node is reported missing");
    assert_eq!(sockets, 1);
    wait_for_members(&nodes[..2], 2).await;
    assert!(started.elapsed() >= test_config().heartbeat_timeout - Duration::from_millis(500));
    // With the dead node dropped, requests complete at once.
    let started = Instant::now();
    let (_, missing) = fetch_all(&nodes[0]).await;
    assert_eq!(missing, 0);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Fetches every socket of `/` from `node`: how many, and how many nodes
/// did not answer.
async fn fetch_all(node: &Node) -> (usize, usize) {
    let (sockets, missing) = node
        .io
        .of("/")
        .broadcast()
        .fetch_sockets_partial()
        .await
        .unwrap();
    (sockets.len(), missing)
}

/// A broker outage between one node and its broker: the node keeps
/// serving its own clients, reconnects, resubscribes, and cross-node
/// delivery resumes in both directions without a restart.
pub async fn survives_a_broker_outage(connect: &ConnectThrough, broker: SocketAddr) {
    let prefix = format!("sy-test-{}", random_id());
    let proxy = proxy::FaultProxy::start(broker).await;
    let a = start_node(connect(prefix.clone(), broker).await).await;
    let b = start_node(connect(prefix, proxy.addr()).await).await;
    let nodes = [a, b];
    wait_for_members(&nodes, 2).await;
    let mut on_a = client(&nodes[0], &["room"]).await;
    let mut on_b = client(&nodes[1], &["room"]).await;
    nodes[0].io.to("room").emit("before", &1).unwrap();
    assert_eq!(on_b.expect("before").await, vec![json!(1)]);
    assert_eq!(on_a.expect("before").await, vec![json!(1)]);

    proxy.cut();
    let start = Instant::now();
    while nodes[1].cluster.broker().stats().outages == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the broker never noticed the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Local delivery goes on during the outage.
    nodes[1].io.to("room").emit("local", &2).unwrap();
    assert_eq!(on_b.expect("local").await, vec![json!(2)]);
    let mut late = client(&nodes[1], &["room"]).await;
    nodes[1].io.to("room").emit("local", &3).unwrap();
    assert_eq!(on_b.expect("local").await, vec![json!(3)]);
    assert_eq!(late.expect("local").await, vec![json!(3)]);

    proxy.restore();
    // Cross-node delivery resumes: keep publishing until one gets through.
    emit_until_received(&nodes[0], "room", "after", &mut on_b).await;
    // And the other way round.
    nodes[1].io.to("room").emit("back", &5).unwrap();
    loop {
        let event = on_a.event().await;
        if event.name == "back" {
            assert_eq!(event.args, vec![json!(5)]);
            break;
        }
    }
    let stats = nodes[1].cluster.broker().stats();
    assert!(stats.outages >= 1 && stats.recoveries >= 1, "{stats:?}");
    wait_for_members(&nodes, 2).await;
}
