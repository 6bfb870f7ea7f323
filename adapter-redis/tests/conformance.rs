//! The shared cluster suite and the outage test against Redis on
//! 127.0.0.1:6379 (scripts/test.sh starts it when it is not running), in
//! the default mode (Node's format, classic pub/sub); and the suite again
//! in sharded mode (SPUBLISH/SSUBSCRIBE, which a standalone server also
//! serves) with Switchyard's own format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::Broker;
use switchyard_cluster::conformance::{connect, connect_through};
use switchyard_redis::{RedisBroker, RedisConfig, RedisFormat};

fn redis_addr() -> SocketAddr {
    std::env::var("REDIS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:6379".into())
        .parse()
        .expect("REDIS_ADDR is host:port")
}

async fn redis(
    prefix: String,
    addr: SocketAddr,
    sharded: bool,
) -> (
    Arc<dyn Broker>,
    tokio::sync::mpsc::Receiver<switchyard_cluster::Delivery>,
) {
    let config = RedisConfig {
        url: format!("redis://{addr}"),
        prefix,
        sharded,
        format: if sharded {
            RedisFormat::Switchyard
        } else {
            RedisFormat::Node
        },
        max_reconnect_delay: Duration::from_millis(500),
        ..RedisConfig::default()
    };
    let (broker, incoming) = RedisBroker::connect(config)
        .await
        .expect("Redis is reachable");
    (Arc::new(broker) as Arc<dyn Broker>, incoming)
}

switchyard_cluster::conformance_tests!(connect(|prefix| redis(prefix, redis_addr(), false)));

switchyard_cluster::outage_test!(
    connect_through(|prefix, addr| redis(prefix, addr, false)),
    redis_addr()
);

mod sharded {
    use super::*;
    switchyard_cluster::conformance_tests!(connect(|prefix| redis(prefix, redis_addr(), true)));
}

#[tokio::test]
async fn refuses_an_unreachable_server_with_a_clear_error() {
    let config = RedisConfig {
        url: "redis://user:secret@127.0.0.1:1".into(),
        ..RedisConfig::default()
    };
    let err = RedisBroker::connect(config)
        .await
        .err()
        .expect("no server on port 1");
    let text = err.to_string();
    assert!(
        text.contains("cannot connect to Redis at redis://***@127.0.0.1:1"),
        "{text}"
    );
    assert!(!text.contains("secret"), "credentials stay out of messages");
}
