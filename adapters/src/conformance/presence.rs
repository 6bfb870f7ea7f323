//! Presence across nodes: users with sessions on several nodes join once
//! and leave once, a dead node takes its users with it, and a node started
//! later learns who is online.

use super::*;
use parking_lot::Mutex;
use smol_str::SmolStr;
use switchyard_core::{ConnectError, PresenceEvent};

type Events = Arc<Mutex<Vec<PresenceEvent>>>;

/// Names users from `auth.user` and records the node's presence events.
fn track_presence(node: &Node) -> Events {
    node.io.use_middleware(|socket: Socket| async move {
        if let Some(user) = socket.auth().get("user").and_then(Value::as_str) {
            socket.set_user(user);
        }
        Ok::<(), ConnectError>(())
    });
    let events: Events = Arc::default();
    let recorded = events.clone();
    node.io.of("/").on_presence(move |event: PresenceEvent| {
        let recorded = recorded.clone();
        async move { recorded.lock().push(event) }
    });
    events
}

fn users(node: &Node) -> Vec<(SmolStr, usize)> {
    let mut users = node.io.of("/").online_users();
    users.sort();
    users
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn online(user: &str, online: bool) -> PresenceEvent {
    PresenceEvent {
        user: user.into(),
        online,
    }
}

/// Sessions of three users over three nodes; exact join and leave events on
/// every node; a dead node's users leave; a late node sees the same.
pub async fn presence_is_cluster_wide(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let events: Vec<Events> = nodes.iter().map(track_presence).collect();
    let session = |n: usize, user: &str| {
        let (addr, auth) = (nodes[n].addr, format!(r#"{{"user":"{user}"}}"#));
        async move { TestClient::connect(addr, &auth).await }
    };
    let ann_a = session(0, "ann").await;
    let _ann_b = session(1, "ann").await;
    let _bob = session(2, "bob").await;
    let _carl_a = session(0, "carl").await;
    let _carl_b = session(2, "carl").await;
    let expected = vec![("ann".into(), 2), ("bob".into(), 1), ("carl".into(), 2)];
    for node in &nodes {
        until("every node sees every session", || users(node) == expected).await;
    }
    settle().await;
    for recorded in &events {
        let mut joined = recorded.lock().clone();
        joined.sort_by(|a, b| a.user.cmp(&b.user));
        assert_eq!(
            joined,
            [
                online("ann", true),
                online("bob", true),
                online("carl", true)
            ],
            "one join per user"
        );
    }

    drop(ann_a);
    for node in &nodes {
        until("ann's sessions drop to one", || {
            node.io.of("/").sessions_of("ann") == 1
        })
        .await;
    }
    settle().await;
    assert!(
        events.iter().all(|e| e.lock().len() == 3),
        "ann is still online: no event"
    );

    // Node 2 dies (no goodbye): bob leaves after the heartbeat timeout,
    // carl stays with one session.
    nodes[2].cluster.broker().close().await;
    for (node, recorded) in nodes[..2].iter().zip(&events) {
        until("the dead node's users leave", || {
            !node.io.of("/").is_online("bob")
        })
        .await;
        assert_eq!(node.io.of("/").sessions_of("carl"), 1);
        assert_eq!(
            recorded.lock()[3..],
            [online("bob", false)],
            "one leave for bob"
        );
    }

    // A node started later learns the current presence.
    let late = start_node(connect(nodes[0].prefix.clone()).await).await;
    until("the late node learns who is online", || {
        users(&late) == users(&nodes[0])
    })
    .await;
    assert_eq!(users(&late), vec![("ann".into(), 1), ("carl".into(), 1)]);
}
