//! The shared cluster suite and the outage test, against RabbitMQ on
//! 127.0.0.1:5672 (scripts/test.sh starts it when it is not running).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_amqp::{AmqpBroker, AmqpConfig};
use switchyard_cluster::Broker;
use switchyard_cluster::conformance::{connect, connect_through};

fn amqp_addr() -> SocketAddr {
    std::env::var("AMQP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:5672".into())
        .parse()
        .expect("AMQP_ADDR is host:port")
}

async fn amqp(
    prefix: String,
    addr: SocketAddr,
) -> (
    Arc<dyn Broker>,
    tokio::sync::mpsc::Receiver<switchyard_cluster::Delivery>,
) {
    let config = AmqpConfig {
        url: format!("amqp://guest:guest@{addr}/%2f"),
        prefix,
        max_reconnect_delay: Duration::from_millis(500),
        ..AmqpConfig::default()
    };
    let (broker, incoming) = AmqpBroker::connect(config)
        .await
        .expect("RabbitMQ is reachable");
    (Arc::new(broker) as Arc<dyn Broker>, incoming)
}

switchyard_cluster::conformance_tests!(connect(|prefix| amqp(prefix, amqp_addr())));

switchyard_cluster::outage_test!(connect_through(amqp), amqp_addr());

#[tokio::test]
async fn refuses_an_unreachable_server_with_a_clear_error() {
    let config = AmqpConfig {
        url: "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        ..AmqpConfig::default()
    };
    let err = AmqpBroker::connect(config)
        .await
        .err()
        .expect("no server on port 1");
    assert!(
        err.to_string()
            .contains("cannot connect to RabbitMQ at amqp://***@127.0.0.1:1"),
        "{err}"
    );
}

/// `url` lists two RabbitMQ "nodes" (two proxies to the same server): the
/// broker starts through the second while the first is down, and when the
/// node it is connected to goes away it moves to the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_to_the_next_node_of_its_url_list() {
    use serde_json::json;
    use switchyard_cluster::conformance::proxy::FaultProxy;
    use switchyard_cluster::conformance::{
        client, emit_until_received, start_node, wait_for_members,
    };

    let upstream = amqp_addr();
    let first = FaultProxy::start(upstream).await;
    let second = FaultProxy::start(upstream).await;
    first.cut();
    let prefix = format!("sy-test-list-{}", std::process::id());
    let listed = AmqpConfig {
        url: format!(
            "amqp://guest:guest@{}/%2f, amqp://guest:guest@{}/%2f",
            first.addr(),
            second.addr()
        ),
        prefix: prefix.clone(),
        max_reconnect_delay: Duration::from_millis(500),
        ..AmqpConfig::default()
    };
    let (broker, incoming) = AmqpBroker::connect(listed)
        .await
        .expect("starts through the second URL while the first is down");
    let a = start_node((Arc::new(broker) as Arc<dyn Broker>, incoming)).await;
    let b = start_node(amqp(prefix, upstream).await).await;
    let nodes = [a, b];
    wait_for_members(&nodes, 2).await;
    let mut on_a = client(&nodes[0], &["room"]).await;
    nodes[1].io.to("room").emit("before", &1).unwrap();
    assert_eq!(on_a.expect("before").await, vec![json!(1)]);

    // The first node comes back, the second goes away: the broker moves.
    first.restore();
    second.cut();
    let started = std::time::Instant::now();
    while nodes[0].cluster.broker().stats().outages == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the broker never noticed that its node went away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Delivery resumes through the first URL.
    emit_until_received(&nodes[1], "room", "after", &mut on_a).await;
    while nodes[0].cluster.broker().stats().recoveries == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = nodes[0].cluster.broker().stats();
    assert!(stats.outages >= 1 && stats.recoveries >= 1, "{stats:?}");
}
