//! The shared cluster suite and the outage test, against the NATS server
//! on 127.0.0.1:4222 (scripts/test.sh starts it when it is not running).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::Broker;
use switchyard_cluster::conformance::{connect, connect_through};
use switchyard_nats::{NatsBroker, NatsConfig};

fn nats_addr() -> SocketAddr {
    std::env::var("NATS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:4222".into())
        .parse()
        .expect("NATS_ADDR is host:port")
}

async fn nats(
    prefix: String,
    addr: SocketAddr,
) -> (
    Arc<dyn Broker>,
    tokio::sync::mpsc::Receiver<switchyard_cluster::Delivery>,
) {
    let config = NatsConfig {
        url: format!("nats://{addr}"),
        prefix,
        max_reconnect_delay: Duration::from_millis(500),
        ..NatsConfig::default()
    };
    let (broker, incoming) = NatsBroker::connect(config)
        .await
        .expect("NATS is reachable");
    (Arc::new(broker) as Arc<dyn Broker>, incoming)
}

switchyard_cluster::conformance_tests!(connect(|prefix| nats(prefix, nats_addr())));

switchyard_cluster::outage_test!(connect_through(nats), nats_addr());

#[tokio::test]
async fn refuses_an_unreachable_server_with_a_clear_error() {
    let config = NatsConfig {
        url: "nats://127.0.0.1:1".into(),
        ..NatsConfig::default()
    };
    let err = NatsBroker::connect(config)
        .await
        .err()
        .expect("no server on port 1");
    assert!(
        err.to_string()
            .contains("cannot connect to NATS at nats://127.0.0.1:1"),
        "{err}"
    );
}

#[tokio::test]
async fn starts_with_any_reachable_server_of_a_list() {
    // The seeds of a NATS cluster, the first one down.
    let config = NatsConfig {
        url: format!("nats://127.0.0.1:1, nats://{}", nats_addr()),
        ..NatsConfig::default()
    };
    let (broker, _incoming) = NatsBroker::connect(config)
        .await
        .expect("the second server is reachable");
    assert!(broker.connected());
    let garbage = NatsConfig {
        url: "nats://127.0.0.1:4222,nats://bad port".into(),
        ..NatsConfig::default()
    };
    let err = NatsBroker::connect(garbage).await.err().expect("a bad URL");
    assert!(err.to_string().contains("cannot connect to NATS"), "{err}");
}
