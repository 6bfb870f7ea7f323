//! Joins take effect cluster-wide before they are acknowledged: a broadcast
//! sent from another node right after a join resolves reaches the new
//! member, on every broker, whatever the time its subscription takes.

use super::*;

/// Three clients, one per node, join a fresh room at once, each waiting
/// for its join to resolve; then a node broadcasts to the room at once,
/// 5 ms apart. Twenty rounds, zero lost.
pub async fn a_join_is_heard_cluster_wide_once_it_resolves(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(client(node, &[]).await);
    }
    for round in 0..20 {
        let room = format!("fresh-{round}-{}", random_id());
        let joins: Vec<_> = nodes
            .iter()
            .zip(&clients)
            .map(|(node, c)| {
                let socket = node.io.of("/").socket(&c.sid).expect("its socket");
                tokio::spawn(socket.join(room.clone()))
            })
            .collect();
        for joined in joins {
            joined
                .await
                .expect("a join task")
                .expect("the join is confirmed");
        }
        for n in 0..10 {
            nodes[round % 3].io.to(room.as_str()).emit("m", &n).unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for c in &mut clients {
            for n in 0..10 {
                assert_eq!(
                    c.expect("m").await,
                    vec![json!(n)],
                    "round {round}: in order, none lost"
                );
            }
        }
    }
}

/// `sockets_join` resolves once every node joined its sockets and heard the
/// room: a broadcast right after it, from any node, reaches them all. (In
/// Node's Redis format, whose servers never answer a join, the joining
/// node's own later broadcasts are the ones ordered after it.)
pub async fn sockets_join_resolves_once_every_node_confirmed(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let confirmed = nodes[0].cluster.format().membership() == Membership::Heartbeat;
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(client(node, &[]).await);
    }
    for round in 0..5 {
        let room = format!("all-{round}-{}", random_id());
        nodes[round % 3]
            .io
            .sockets_join(room.as_str())
            .await
            .expect("every node confirmed");
        let from = if confirmed {
            (round + 1) % 3
        } else {
            round % 3
        };
        nodes[from].io.to(room.as_str()).emit("m", &round).unwrap();
        for c in &mut clients {
            assert_eq!(c.expect("m").await, vec![json!(round)]);
        }
    }
}
