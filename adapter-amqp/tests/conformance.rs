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
