//! `switchyard_redis::Emitter` against a Switchyard node on the Redis at
//! 127.0.0.1:6379, in both formats: every operation reaches the node's
//! clients or handlers. (The e2e suite checks the Node format against
//! Node.js servers and Node's own emitter.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::Broker;
use switchyard_cluster::conformance::{Node, client, start_node, wait_for_members};
use switchyard_core::Value;
use switchyard_redis::{Emitter, EmitterError, RedisBroker, RedisConfig, RedisFormat};
use tokio::sync::mpsc;

fn config(prefix: &str, format: RedisFormat) -> RedisConfig {
    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    RedisConfig {
        url: format!("redis://{addr}"),
        prefix: prefix.into(),
        format,
        ..RedisConfig::default()
    }
}

async fn node(prefix: &str, format: RedisFormat) -> Node {
    let (broker, incoming) = RedisBroker::connect(config(prefix, format))
        .await
        .expect("Redis is reachable");
    let node = start_node((Arc::new(broker) as Arc<dyn Broker>, incoming)).await;
    wait_for_members(std::slice::from_ref(&node), 1).await;
    node
}

/// The arguments of every `job` server-side event the node hears.
fn jobs_of(node: &Node) -> mpsc::UnboundedReceiver<Vec<Value>> {
    let (jobs, job_events) = mpsc::unbounded_channel();
    node.io.of("/").on_server_event(
        "job",
        move |args: Vec<Value>, _ack: Option<switchyard_core::ServerAck>| {
            let jobs = jobs.clone();
            async move {
                let _ = jobs.send(args);
            }
        },
    );
    job_events
}

async fn every_operation_reaches_the_node(format: RedisFormat) {
    let prefix = format!("sy-emitter-{}", std::process::id());
    let prefix = format!("{prefix}-{format:?}");
    let node = node(&prefix, format).await;
    let mut job_events = jobs_of(&node);
    let mut a = client(&node, &["a"]).await;
    let mut b = client(&node, &["b"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let emitter = Emitter::connect(config(&prefix, format)).await.unwrap();

    emitter
        .emit("all", &json!({"n": 1, "nested": [1, {"x": null}]}))
        .await
        .unwrap();
    for x in [&mut a, &mut b] {
        assert_eq!(
            x.expect("all").await,
            vec![json!({"n": 1, "nested": [1, {"x": null}]})]
        );
    }
    emitter.to("a").emit("room", &1).await.unwrap();
    emitter
        .to("a")
        .to("b")
        .except("b")
        .emit("rooms", &2)
        .await
        .unwrap();
    emitter
        .compress(true)
        .emit_args(
            "bin",
            vec![Value::Binary(vec![1, 2].into()), Value::from("t")],
        )
        .await
        .unwrap();
    assert_eq!(a.expect("room").await, vec![json!(1)]);
    assert_eq!(a.expect("rooms").await, vec![json!(2)]);
    assert_eq!(
        a.expect("bin").await,
        vec![json!({"_placeholder": true, "num": 0}), json!("t")]
    );
    assert_eq!(b.expect("bin").await.len(), 2);

    emitter.to("a").sockets_join("c").await.unwrap();
    emitter.to("c").emit("joined", &3).await.unwrap();
    assert_eq!(a.expect("joined").await, vec![json!(3)]);
    emitter.sockets_leave("c").await.unwrap();
    emitter.to("c").emit("left", &4).await.unwrap();
    a.expect_nothing(Duration::from_millis(300)).await;

    emitter
        .server_side_emit("job", vec![Value::from("done"), Value::from(5)])
        .await
        .unwrap();
    let args = tokio::time::timeout(Duration::from_secs(5), job_events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(args, vec![Value::from("done"), Value::from(5)]);

    assert!(matches!(
        emitter.emit("connect", &1).await,
        Err(EmitterError::ReservedEvent(_))
    ));

    emitter.to("b").disconnect_sockets(true).await.unwrap();
    assert!(b.closed().await, "b's connection closed");
    emitter.emit("after", &6).await.unwrap();
    assert_eq!(a.expect("after").await, vec![json!(6)]);
    emitter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_in_the_node_format() {
    every_operation_reaches_the_node(RedisFormat::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_in_the_switchyard_format() {
    every_operation_reaches_the_node(RedisFormat::Switchyard).await;
}

/// In Switchyard's format an emitter's `sockets_join` resolves once every
/// node confirmed it: a broadcast to the room right after reaches the new
/// members on every node, with no settle time. Twenty fresh rooms, two
/// nodes, zero lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitters_join_is_confirmed_before_it_resolves() {
    let prefix = format!("sy-emitter-join-{}", std::process::id());
    let format = RedisFormat::Switchyard;
    let (first, second) = (node(&prefix, format).await, node(&prefix, format).await);
    let nodes = [first, second];
    wait_for_members(&nodes, 2).await;
    let mut clients = vec![client(&nodes[0], &[]).await, client(&nodes[1], &[]).await];
    let emitter = Emitter::connect(config(&prefix, format)).await.unwrap();
    for round in 0..20 {
        let room = format!("fresh-{round}");
        emitter
            .sockets_join(room.as_str())
            .await
            .expect("every node confirmed");
        emitter.to(room.as_str()).emit("m", &round).await.unwrap();
        for c in &mut clients {
            assert_eq!(c.expect("m").await, vec![json!(round)], "round {round}");
        }
    }
    emitter.close().await;
}

#[tokio::test]
async fn reports_an_unreachable_redis() {
    let err = Emitter::connect(RedisConfig {
        url: "redis://127.0.0.1:1".into(),
        ..RedisConfig::default()
    })
    .await
    .err()
    .expect("nothing listens on port 1");
    assert!(err.to_string().contains("cannot connect to Redis"), "{err}");
}
