//! The shared cluster suite and the outage test against Redis on
//! 127.0.0.1:6379 (scripts/test.sh starts it when it is not running), in
//! the default mode (Node's format, classic pub/sub); and the suite again
//! in sharded mode (SPUBLISH/SSUBSCRIBE, which a standalone server also
//! serves) with Switchyard's own format and with Node's sharded adapter's.
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
    format: RedisFormat,
) -> (
    Arc<dyn Broker>,
    tokio::sync::mpsc::Receiver<switchyard_cluster::Delivery>,
) {
    let config = RedisConfig {
        url: format!("redis://{addr}"),
        prefix,
        sharded: format != RedisFormat::Node,
        format,
        max_reconnect_delay: Duration::from_millis(500),
        ..RedisConfig::default()
    };
    let (broker, incoming) = RedisBroker::connect(config)
        .await
        .expect("Redis is reachable");
    (Arc::new(broker) as Arc<dyn Broker>, incoming)
}

switchyard_cluster::conformance_tests!(connect(|prefix| redis(
    prefix,
    redis_addr(),
    RedisFormat::Node
)));

switchyard_cluster::outage_test!(
    connect_through(|prefix, addr| redis(prefix, addr, RedisFormat::Node)),
    redis_addr()
);

mod sharded {
    use super::*;
    switchyard_cluster::conformance_tests!(connect(|prefix| redis(
        prefix,
        redis_addr(),
        RedisFormat::Switchyard
    )));
}

mod node_sharded {
    use super::*;
    switchyard_cluster::conformance_tests!(connect(|prefix| redis(
        prefix,
        redis_addr(),
        RedisFormat::NodeSharded
    )));
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

/// A `redis-server` with cluster mode on, on a free loopback port, in a
/// scratch directory; killed when dropped.
struct ClusterNode {
    child: std::process::Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl ClusterNode {
    fn start() -> Option<ClusterNode> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("switchyard-cluster-node-{port}"));
        std::fs::create_dir_all(&dir).ok()?;
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(ClusterNode {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

#[tokio::test]
async fn refuses_a_plain_url_to_a_redis_cluster_node() {
    let node = ClusterNode::start().expect("redis-server is installed");
    let url = format!("redis://127.0.0.1:{}", node.port);
    let mut last = String::new();
    for _ in 0..100 {
        let config = RedisConfig {
            url: url.clone(),
            ..RedisConfig::default()
        };
        match RedisBroker::connect(config).await {
            Ok(_) => panic!("a cluster node reached with a plain URL was accepted"),
            Err(e) if e.to_string().contains("redis-cluster://") => return,
            Err(e) => last = e.to_string(),
        }
        // Not listening yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never refused as a cluster node: {last}");
}

/// `redis-cli` against the test server: one command, its raw answer.
fn redis_cli(args: &[&str]) -> String {
    let addr = redis_addr();
    let out = std::process::Command::new("redis-cli")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_packet_stream_expires_a_window_after_its_last_packet() {
    use switchyard_core::protocol::Packet;
    use switchyard_core::recovery::LoggedPacket;
    let prefix = format!("expiry-{}", std::process::id());
    let (broker, _incoming) = redis(prefix.clone(), redis_addr(), RedisFormat::Node).await;
    let store = broker.session_store().expect("Redis keeps recovery data");
    let keep = Duration::from_millis(1500);
    let packet = LoggedPacket {
        offset: "1-a".into(),
        packet: Packet::event("/", "news", vec![switchyard_core::Value::from(1)]),
        opts: switchyard_core::BroadcastOptions::default(),
    };
    store.append(&"/".into(), &packet, keep);
    let key = format!("{prefix}-packets#/");
    let mut ttl = String::new();
    for _ in 0..100 {
        ttl = redis_cli(&["PTTL", &key]);
        if ttl.parse::<i64>().is_ok_and(|t| t > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ttl: i64 = ttl.parse().expect("PTTL answers a number");
    assert!(
        ttl > 0 && ttl <= 1500,
        "the stream expires with the window: {ttl}"
    );
    tokio::time::sleep(Duration::from_millis(ttl as u64 + 200)).await;
    assert_eq!(redis_cli(&["EXISTS", &key]), "0", "nothing left behind");
}

/// A subscription Redis refuses (here: an ACL without that channel) is not
/// forgotten: once Redis would accept it, the broker subscribes on its own.
/// Sharded: fred reports a refused SSUBSCRIBE, while a classic SUBSCRIBE
/// has no reply of its own (a refusal arrives out of band).
#[tokio::test]
async fn a_refused_subscription_is_made_once_redis_accepts_it() {
    use switchyard_cluster::Channel;
    let user = format!("sy-acl-{}", std::process::id());
    let prefix = format!("acl-{}", std::process::id());
    let room = Channel::Room {
        ns: "/".into(),
        room: "locked".into(),
    };
    let channel = switchyard_redis::channels::name(&prefix, RedisFormat::Switchyard, &room);
    assert_eq!(
        redis_cli(&[
            "ACL",
            "SETUSER",
            &user,
            "reset",
            "on",
            ">pw",
            "~*",
            "+@all",
            "resetchannels"
        ]),
        "OK"
    );
    let addr = redis_addr();
    let config = RedisConfig {
        url: format!("redis://{user}:pw@{addr}"),
        prefix,
        format: RedisFormat::Switchyard,
        sharded: true,
        max_reconnect_delay: Duration::from_millis(500),
        ..RedisConfig::default()
    };
    let (broker, mut incoming) = RedisBroker::connect(config)
        .await
        .expect("Redis is reachable");
    let refused = broker.subscribe(vec![room]).await;
    assert!(refused.is_err(), "the ACL refuses the channel");

    assert_eq!(
        redis_cli(&["ACL", "SETUSER", &user, &format!("&{channel}")]),
        "OK"
    );
    let started = std::time::Instant::now();
    let delivered = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the refused subscription was never made"
        );
        redis_cli(&["SPUBLISH", &channel, "hello"]);
        if let Ok(Some(delivery)) =
            tokio::time::timeout(Duration::from_millis(200), incoming.recv()).await
        {
            break delivery;
        }
    };
    assert_eq!(delivered.channel, channel);
    broker.close().await;
    redis_cli(&["ACL", "DELUSER", &user]);
}
