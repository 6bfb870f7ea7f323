//! The shared cluster test suite: every scenario runs against every
//! [`Broker`] — in-process, Redis, NATS, RabbitMQ — through
//! [`conformance_tests!`](crate::conformance_tests), which turns each
//! scenario into a `#[tokio::test]` of the calling crate.
//!
//! Each scenario starts several real servers (on loopback ports) joined by
//! brokers from the given [`Connect`], connects raw Socket.IO clients to
//! them and checks what arrives where.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod client;
pub mod proxy;
pub mod watched;

use crate::broker::{BoxFuture, Broker, Channel, Delivery};
use crate::cluster::{Cluster, ClusterConfig};
use crate::format::Membership;
use crate::random_id::random_id;
use client::{TestClient, WAIT};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::{Event, ServerConfig, Socket, SocketIo, Value, object};
use tokio::sync::mpsc;

/// Connects a fresh broker for one node. Nodes of one scenario get the same
/// prefix (so they see each other); scenarios get different ones.
pub type Connect =
    Box<dyn Fn(String) -> BoxFuture<(Arc<dyn Broker>, mpsc::Receiver<Delivery>)> + Send + Sync>;

/// Builds a [`Connect`] from an async function.
pub fn connect<F, Fut>(f: F) -> Connect
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Arc<dyn Broker>, mpsc::Receiver<Delivery>)> + Send + 'static,
{
    Box::new(move |prefix| Box::pin(f(prefix)))
}

/// Connects a broker for one node through a given broker address (a
/// [`proxy::FaultProxy`] in front of the real broker).
pub type ConnectThrough = Box<
    dyn Fn(String, SocketAddr) -> BoxFuture<(Arc<dyn Broker>, mpsc::Receiver<Delivery>)>
        + Send
        + Sync,
>;

/// Builds a [`ConnectThrough`] from an async function.
pub fn connect_through<F, Fut>(f: F) -> ConnectThrough
where
    F: Fn(String, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Arc<dyn Broker>, mpsc::Receiver<Delivery>)> + Send + 'static,
{
    Box::new(move |prefix, addr| Box::pin(f(prefix, addr)))
}

/// One server of a scenario.
pub struct Node {
    pub io: SocketIo,
    pub cluster: Cluster,
    pub addr: SocketAddr,
    /// The channel prefix the scenario's nodes share.
    pub prefix: String,
}

/// Cluster settings fast enough for tests, slow enough for a loaded machine.
pub fn test_config() -> ClusterConfig {
    ClusterConfig {
        heartbeat_interval: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_millis(2500),
        request_timeout: Duration::from_secs(3),
        node_label: None,
        advertise: None,
    }
}

/// Starts `n` nodes sharing a fresh prefix, with the test handlers, and
/// waits until each counts all the others.
pub async fn start_nodes(connect: &Connect, n: usize) -> Vec<Node> {
    start_nodes_with(connect, n, ServerConfig::default()).await
}

/// [`start_nodes`] with server settings (the adapter is set here).
pub async fn start_nodes_with(connect: &Connect, n: usize, config: ServerConfig) -> Vec<Node> {
    let prefix = format!("sy-test-{}", random_id());
    let mut nodes = Vec::new();
    for _ in 0..n {
        let mut node = start_node_with(connect(prefix.clone()).await, config.clone()).await;
        node.prefix = prefix.clone();
        nodes.push(node);
    }
    wait_for_members(&nodes, n).await;
    nodes
}

/// Starts one server over a connected broker.
pub async fn start_node(pair: (Arc<dyn Broker>, mpsc::Receiver<Delivery>)) -> Node {
    start_node_with(pair, ServerConfig::default()).await
}

/// [`start_node`] with server settings (the adapter is set here).
pub async fn start_node_with(
    (broker, incoming): (Arc<dyn Broker>, mpsc::Receiver<Delivery>),
    config: ServerConfig,
) -> Node {
    // RUST_LOG=warn (or finer) shows the nodes' logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    // Bound first, so that the node can tell the others where it listens.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen on loopback");
    let addr = listener.local_addr().expect("a bound address");
    let cluster_config = ClusterConfig {
        advertise: Some(addr.to_string()),
        ..test_config()
    };
    let cluster = Cluster::new(broker, incoming, cluster_config);
    let config = config
        .adapter(cluster.clone())
        .session_router(Arc::new(cluster.clone()));
    let io = SocketIo::new(config);
    install_handlers(&io);
    let listening = io.listen_on(listener).expect("serve on loopback");
    tokio::spawn(listening.wait());
    Node {
        io,
        cluster,
        addr,
        prefix: String::new(),
    }
}

/// Waits until every node counts `n` servers.
pub async fn wait_for_members(nodes: &[Node], n: usize) {
    let start = Instant::now();
    loop {
        let mut all = true;
        for node in nodes {
            all &= node.io.of("/").server_count().await == n;
        }
        if all {
            return;
        }
        assert!(start.elapsed() < WAIT, "nodes did not find each other");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn install_handlers(io: &SocketIo) {
    io.on_connection(|socket: Socket| async move {
        socket.on("join", |socket: Socket, event: Event| async move {
            let joined = socket.join(event.arg::<String>(0).unwrap_or_default());
            let _ = event.ack(&joined.await.is_ok());
        });
    });
    io.of("/").on_server_event(
        "hello",
        |args: Vec<Value>, ack: Option<switchyard_core::ServerAck>| async move {
            if let Some(ack) = ack {
                ack.send(object! { "got" => Value::Array(args) });
            }
        },
    );
}

/// Connects a client to `node` and makes its socket join `rooms`.
pub async fn client(node: &Node, rooms: &[&str]) -> TestClient {
    let client = TestClient::connect(node.addr, "").await;
    let socket = node
        .io
        .of("/")
        .socket(&client.sid)
        .expect("socket on its node");
    for room in rooms {
        socket.join(*room).await.expect("a room within the limits");
    }
    client
}

/// Emits `event` from `from` to `room` until `to` receives it (cross-node
/// delivery resuming after an outage or a failover), for at most 30 s.
pub async fn emit_until_received(from: &Node, room: &str, event: &str, to: &mut TestClient) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "cross-node delivery of {event:?} did not resume"
        );
        from.io.to(room.to_owned()).emit(event, &"resumed").unwrap();
        if let Ok(received) = tokio::time::timeout(Duration::from_millis(300), to.event()).await
            && received.name == event
        {
            return;
        }
    }
}

/// Lets subscriptions to new rooms reach the broker.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

mod failures;
mod forwarding;
mod joins;
mod presence;
mod recovery;
mod scenarios;

pub use failures::*;
pub use forwarding::*;
pub use joins::*;
pub use presence::*;
pub use recovery::*;
pub use scenarios::*;

/// Declares the outage test for a broker reached at `$addr`.
#[macro_export]
macro_rules! outage_test {
    ($connect:expr, $addr:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_a_broker_outage() {
            let connect: $crate::conformance::ConnectThrough = $connect;
            $crate::conformance::survives_a_broker_outage(&connect, $addr).await;
        }
    };
}

/// Declares one `#[tokio::test]` per scenario, for a broker given by an
/// expression of type [`Connect`] (evaluated in each test).
#[macro_export]
macro_rules! conformance_tests {
    ($connect:expr) => {
        $crate::conformance_tests!(@each $connect;
            broadcasts_reach_the_right_clients_on_every_node,
            socket_broadcasts_exclude_the_sender,
            acks_from_clients_on_every_node,
            fetch_sockets_across_nodes,
            join_leave_and_disconnect_across_nodes,
            server_side_emit_with_acks,
            a_closing_node_is_dropped_at_once,
            a_node_that_left_is_not_brought_back_by_a_late_message,
            a_dead_node_is_dropped_and_requests_do_not_hang,
            a_burst_arrives_in_order,
            room_and_namespace_broadcasts_keep_their_order,
            malformed_messages_are_skipped,
            room_subscriptions_follow_membership,
            sessions_recover_on_another_node,
            sessions_survive_their_node_with_a_store,
            made_up_recovery_ids_cost_one_request_at_most,
            a_client_back_before_its_old_socket_left_recovers,
            a_burst_just_published_where_the_client_recovers_is_replayed,
            a_client_gone_while_being_recovered_recovers_next_time,
            a_kept_session_is_let_go_once_its_answer_is_queued,
            a_join_is_heard_cluster_wide_once_it_resolves,
            sockets_join_resolves_once_every_node_confirmed,
            presence_is_cluster_wide,
            sessions_are_served_through_any_node
        );
    };
    (@each $connect:expr; $($scenario:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let connect: $crate::conformance::Connect = $connect;
                $crate::conformance::$scenario(&connect).await;
            }
        )*
    };
}
