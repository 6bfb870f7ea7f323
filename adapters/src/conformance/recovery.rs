//! Connection state recovery across nodes: a client whose connection
//! dropped reconnects through another node and gets its id, rooms and
//! every packet it missed, in order, once.

use super::*;
use switchyard_core::RecoveryConfig;

fn recovery_config() -> ServerConfig {
    ServerConfig::default().connection_state_recovery(RecoveryConfig {
        max_disconnection_duration: Duration::from_secs(30),
        ..RecoveryConfig::default()
    })
}

/// Nodes with recovery on; each greets its sockets with `welcome(recovered)`.
async fn recovery_nodes(connect: &Connect, n: usize) -> Vec<Node> {
    let nodes = start_nodes_with(connect, n, recovery_config()).await;
    for node in &nodes {
        greet(node);
    }
    nodes
}

/// Greets each socket with `welcome(recovered)`.
fn greet(node: &Node) {
    node.io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("welcome", &socket.recovered());
    });
}

/// A client in room `r` on `node` that loses its connection after its
/// welcome: its socket id, private id and last offset.
async fn lost_client(node: &Node) -> (String, String, String) {
    let mut client = client(node, &["r"]).await;
    let welcome = client.expect("welcome").await;
    assert_eq!(welcome[0], json!(false));
    let offset = welcome[1].as_str().expect("an offset").to_owned();
    let pid = client.pid.clone().expect("a pid in the CONNECT reply");
    let sid = client.sid.clone();
    drop(client);
    let start = Instant::now();
    while node.io.of("/").socket_count() > 0 {
        assert!(start.elapsed() < WAIT, "the socket never left");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    settle().await;
    (sid, pid, offset)
}

/// Emits, while the client is away, what it must get back (and what not).
async fn publish_while_away(publishers: &[&Node]) {
    for (i, node) in publishers.iter().enumerate() {
        node.io.to("r").emit("m", &i).unwrap();
        settle().await;
    }
    publishers[0].io.emit("all", &"everyone").unwrap();
    publishers[0].io.to("elsewhere").emit("x", &0).unwrap();
    publishers[0].io.volatile().emit("x", &1).unwrap();
    settle().await;
}

/// Reconnects with `{pid, offset}` and checks the recovered session.
async fn expect_recovered(
    node: &Node,
    (sid, pid, offset): &(String, String, String),
    published: usize,
) {
    let auth = json!({"pid": pid, "offset": offset}).to_string();
    let mut client = TestClient::connect(node.addr, &auth).await;
    assert_eq!(&client.sid, sid, "the same socket id");
    assert_eq!(client.pid.as_deref(), Some(pid.as_str()));
    for i in 0..published {
        let args = client.expect("m").await;
        assert_eq!(args[0], json!(i), "missed packets in order");
    }
    assert_eq!(client.expect("all").await[0], json!("everyone"));
    assert_eq!(client.expect("welcome").await[0], json!(true));
    client.expect_nothing(Duration::from_millis(300)).await;
    let socket = node.io.of("/").socket(sid).expect("the socket is back");
    assert!(socket.recovered());
    assert!(socket.rooms().contains(&"r".into()), "its rooms are back");
    // Live delivery to its room works again.
    node.io.to("r").emit("live", &1).unwrap();
    assert_eq!(client.expect("live").await[0], json!(1));
}

/// A client that lost its connection on one node recovers on another,
/// with every packet sent meanwhile from any node.
pub async fn sessions_recover_on_another_node(connect: &Connect) {
    let nodes = recovery_nodes(connect, 2).await;
    let lost = lost_client(&nodes[0]).await;
    publish_while_away(&[&nodes[1], &nodes[0]]).await;
    expect_recovered(&nodes[1], &lost, 2).await;
}

/// The node a client was on dies while it is away. With a session store
/// (Redis, NATS JetStream) the client recovers on another node; without
/// one (each node keeps its own), it starts afresh.
pub async fn sessions_survive_their_node_with_a_store(connect: &Connect) {
    let nodes = recovery_nodes(connect, 2).await;
    let lost = lost_client(&nodes[0]).await;
    let has_store = nodes[0].cluster.broker().session_store().is_some();
    nodes[0].io.close().await;
    nodes[0].cluster.broker().close().await;
    publish_while_away(&[&nodes[1]]).await;
    if has_store {
        expect_recovered(&nodes[1], &lost, 1).await;
    } else {
        let auth = json!({"pid": lost.1, "offset": lost.2}).to_string();
        let mut client = TestClient::connect(nodes[1].addr, &auth).await;
        assert_ne!(
            client.sid, lost.0,
            "without a store the session died with its node"
        );
        assert_eq!(client.expect("welcome").await[0], json!(false));
    }
}

/// How many recovery requests of `kinds` a node took from the broker.
fn requests(node: &Node, kinds: &[&str]) -> u64 {
    node.cluster
        .messages_received()
        .into_iter()
        .filter(|(kind, _)| kinds.contains(kind))
        .map(|(_, n)| n)
        .sum()
}

const TARGETED: [&str; 3] = ["take_session", "missed_since", "restore_session"];

/// A CONNECT with a made-up pid, a pid naming no live node, or a real pid
/// with a made-up offset gets a fresh session, at a bounded cost: an offset
/// that is not one (or out of the window) costs nothing at all; otherwise at
/// most one request every node hears to evict a socket that may still look
/// connected and, without a session store, one to find who keeps the
/// session when the node its pid names does not — each answered at once.
pub async fn made_up_recovery_ids_cost_one_request_at_most(connect: &Connect) {
    let nodes = recovery_nodes(connect, 3).await;
    let lost = lost_client(&nodes[0]).await;
    let targeted: Vec<u64> = nodes.iter().map(|n| requests(n, &TARGETED)).collect();
    let evictions = requests(&nodes[2], &["evict_session"]);
    let fresh = |auth: serde_json::Value| {
        let addr = nodes[1].addr;
        async move {
            let mut client = TestClient::connect(addr, &auth.to_string()).await;
            assert_eq!(client.expect("welcome").await[0], json!(false), "{auth}");
            client.sid.clone()
        }
    };
    fresh(json!({"pid": "made-up", "offset": lost.2})).await;
    fresh(json!({"pid": "made-up.00000000", "offset": lost.2})).await;
    fresh(json!({"pid": lost.1, "offset": format!("{}-1", "0".repeat(4))})).await;
    let sid = fresh(json!({"pid": lost.1, "offset": "not-an-offset"})).await;
    assert_ne!(sid, lost.0);
    settle().await;
    let store = nodes[0].cluster.broker().session_store().is_some();
    let asked = requests(&nodes[2], &TARGETED) - targeted[2];
    if store {
        assert_eq!(asked, 0, "with a store no node is asked for a session");
    } else {
        assert!(
            asked <= 2,
            "one request per attempt with a real offset: {asked}"
        );
    }
    assert!(
        requests(&nodes[2], &["evict_session"]) - evictions <= 2,
        "one eviction per attempt with a real offset, none for the others"
    );
    // The session was never taken: it is still there for the right offset.
    let mut back = TestClient::connect(
        nodes[1].addr,
        &json!({"pid": lost.1, "offset": lost.2}).to_string(),
    )
    .await;
    assert_eq!(back.sid, lost.0);
    assert_eq!(back.expect("welcome").await[0], json!(true));
}

/// The client comes back through another node while its old connection
/// still looks alive (a relayed transport that died with its relay, or a
/// silent network change): the old socket is evicted — its connection
/// closed, its session kept — and the client recovers with everything sent
/// since its offset, once.
pub async fn a_client_back_before_its_old_socket_left_recovers(connect: &Connect) {
    let nodes = recovery_nodes(connect, 2).await;
    let mut old = client(&nodes[0], &["r"]).await;
    let welcome = old.expect("welcome").await;
    let offset = welcome[1].as_str().expect("an offset").to_owned();
    let pid = old.pid.clone().expect("a pid");
    let sid = old.sid.clone();
    for i in 0..3 {
        nodes[0].io.to("r").emit("m", &i).unwrap();
    }
    // Still connected as far as node 0 knows: the client returns to node 1.
    let auth = json!({"pid": pid, "offset": offset}).to_string();
    let mut back = TestClient::connect(nodes[1].addr, &auth).await;
    assert_eq!(back.sid, sid, "the same socket");
    for i in 0..3 {
        assert_eq!(
            back.expect("m").await[0],
            json!(i),
            "missed packets, in order"
        );
    }
    assert_eq!(back.expect("welcome").await[0], json!(true));
    assert!(old.closed().await, "the old connection was closed");
    nodes[0].io.to("r").emit("m", &3).unwrap();
    assert_eq!(back.expect("m").await[0], json!(3), "live delivery again");
    back.expect_nothing(Duration::from_millis(300)).await;
}

/// A client recovers on the node that has just published a burst to its
/// room. Each packet reached that node's own sockets at once, but a
/// session store keeps it a moment later (NATS JetStream acknowledges in
/// batches): the replay still holds every one, in order and once.
pub async fn a_burst_just_published_where_the_client_recovers_is_replayed(connect: &Connect) {
    const BURST: usize = 2000;
    let nodes = recovery_nodes(connect, 2).await;
    let (sid, pid, offset) = lost_client(&nodes[1]).await;
    for i in 0..BURST {
        nodes[0].io.to("r").emit("m", &i).unwrap();
    }
    let auth = json!({"pid": pid, "offset": offset}).to_string();
    let mut client = TestClient::connect(nodes[0].addr, &auth).await;
    assert_eq!(client.sid, sid, "the same socket");
    // The replay, then the greeting of the recovered socket.
    let mut replayed = Vec::new();
    loop {
        let event = client.event().await;
        match event.name.as_str() {
            "m" => replayed.push(event.args[0].clone()),
            "welcome" => break assert_eq!(event.args[0], json!(true)),
            other => panic!("unexpected {other}"),
        }
    }
    let first_missing = (0..BURST).find(|&i| replayed.get(i) != Some(&json!(i)));
    assert_eq!(
        (replayed.len(), first_missing),
        (BURST, None),
        "every packet of the burst, in order, once"
    );
    client.expect_nothing(Duration::from_millis(300)).await;
}

/// The client leaves again while its session is being recovered (its new
/// connection closed before the CONNECT answer: the node it went through
/// stopped, or its network changed once more). The session taken for it
/// is kept again, and the client recovers at its next attempt, on a third
/// node, with every packet since its offset, in order, once.
pub async fn a_client_gone_while_being_recovered_recovers_next_time(connect: &Connect) {
    let nodes = recovery_nodes(connect, 3).await;
    let lost = lost_client(&nodes[0]).await;
    publish_while_away(&[&nodes[1], &nodes[0]]).await;
    let auth = json!({"pid": lost.1, "offset": lost.2}).to_string();
    TestClient::connect_and_leave(nodes[1].addr, &auth).await;
    // Node 1 rebuilds the socket while it works on the CONNECT, and forgets
    // it once it finds the connection gone.
    settle().await;
    let start = Instant::now();
    while nodes[1].io.of("/").socket_count() > 0 {
        assert!(start.elapsed() < WAIT, "node 1 kept the socket");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    expect_recovered(&nodes[2], &lost, 2).await;
}

/// Without a session store, the node that kept a session answers the
/// request for what its socket missed before it lets the session go: a
/// draining node leaves once it keeps no session (flushing what is queued
/// then), so an answer queued after that would never leave it.
pub async fn a_kept_session_is_let_go_once_its_answer_is_queued(connect: &Connect) {
    let prefix = format!("sy-test-{}", random_id());
    let (broker, incoming) = connect(prefix.clone()).await;
    if broker.session_store().is_some() {
        return;
    }
    let notes = Arc::new(watched::Notes::default());
    let watched: Arc<dyn Broker> = Arc::new(watched::Watched {
        inner: broker,
        notes: notes.clone(),
    });
    let mut nodes = Vec::new();
    for pair in [(watched, incoming), connect(prefix.clone()).await] {
        let mut node = start_node_with(pair, recovery_config()).await;
        node.prefix = prefix.clone();
        greet(&node);
        nodes.push(node);
    }
    wait_for_members(&nodes, 2).await;
    let lost = lost_client(&nodes[0]).await;
    publish_while_away(&[&nodes[1], &nodes[0]]).await;
    let adapter = nodes[0].io.of("/").adapter().clone();
    assert_eq!(adapter.kept_sessions(), 1, "node 0 keeps the session");
    // What node 0 keeps as it sends each answer to node 1.
    notes.watch(move |channel| {
        matches!(channel, Channel::Node { .. }).then(|| adapter.kept_sessions())
    });
    expect_recovered(&nodes[1], &lost, 2).await;
    let kept_as_answering = notes.stop();
    assert!(
        kept_as_answering.len() >= 2,
        "node 0 answered the take and the missed packets: {kept_as_answering:?}"
    );
    assert!(
        kept_as_answering.iter().all(|&kept| kept == 1),
        "the session was kept until each answer was queued: {kept_as_answering:?}"
    );
    assert_eq!(
        nodes[0].io.of("/").adapter().kept_sessions(),
        0,
        "then let go"
    );
}
