//! `/readyz` follows the broker: 503 "broker unreachable" while the node's
//! Redis connection is down, 200 again once it is back (through a TCP proxy
//! in front of the real Redis, cut and restored).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::node::health::readyz;
use switchyard_cluster::conformance::proxy::FaultProxy;
use switchyard_cluster::{Broker, Cluster, ClusterConfig};
use switchyard_core::{ServerConfig, SocketIo};
use switchyard_redis::{RedisBroker, RedisConfig};

async fn until(mut check: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(15), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker() {
    let redis = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    let proxy = FaultProxy::start(redis.parse().unwrap()).await;
    let config = RedisConfig {
        url: format!("redis://{}", proxy.addr()),
        prefix: format!("readyz-{}", std::process::id()),
        max_reconnect_delay: Duration::from_millis(300),
        ..RedisConfig::default()
    };
    let (broker, incoming) = RedisBroker::connect(config).await.expect("Redis");
    let cluster = Cluster::new(
        Arc::new(broker) as Arc<dyn Broker>,
        incoming,
        ClusterConfig {
            heartbeat_interval: Duration::from_millis(200),
            ..ClusterConfig::default()
        },
    );
    let io = SocketIo::new(ServerConfig::default().adapter(cluster.clone()));
    let status = || readyz(&io, Some(&cluster)).0;
    until(
        || status() == StatusCode::OK,
        "ready once settled and subscribed",
    )
    .await;
    proxy.cut();
    until(
        || readyz(&io, Some(&cluster)) == (StatusCode::SERVICE_UNAVAILABLE, "broker unreachable"),
        "503 while Redis is unreachable",
    )
    .await;
    proxy.restore();
    until(
        || status() == StatusCode::OK,
        "ready again once Redis is back",
    )
    .await;
    io.drain();
    assert_eq!(
        readyz(&io, Some(&cluster)),
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    );
}
