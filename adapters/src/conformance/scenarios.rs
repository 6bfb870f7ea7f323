//! The scenarios, each a function of a [`Connect`]: what every broker must
//! make true of a cluster.

use super::*;

/// Broadcast to all, to a room, to several rooms, and except rooms, from
/// every node, reaches exactly the right clients on every node.
pub async fn broadcasts_reach_the_right_clients_on_every_node(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let mut red = client(&nodes[0], &["red"]).await;
    let mut blue = client(&nodes[1], &["blue"]).await;
    let mut both = client(&nodes[2], &["red", "blue"]).await;
    for (i, node) in nodes.iter().enumerate() {
        node.io.emit("all", &i).unwrap();
        for c in [&mut red, &mut blue, &mut both] {
            assert_eq!(c.expect("all").await, vec![json!(i)]);
        }
        node.io.to("red").emit("red", &i).unwrap();
        assert_eq!(red.expect("red").await, vec![json!(i)]);
        assert_eq!(both.expect("red").await, vec![json!(i)]);
        node.io.to(["red", "blue"]).emit("either", &i).unwrap();
        for c in [&mut red, &mut blue, &mut both] {
            assert_eq!(
                c.expect("either").await,
                vec![json!(i)],
                "once each, even in both rooms"
            );
        }
        node.io.except("blue").emit("not-blue", &i).unwrap();
        assert_eq!(red.expect("not-blue").await, vec![json!(i)]);
        node.io
            .to("red")
            .except("blue")
            .emit("red-not-blue", &i)
            .unwrap();
        assert_eq!(red.expect("red-not-blue").await, vec![json!(i)]);
        // A marker to everyone proves nothing else was delivered meanwhile.
        node.io.emit("marker", &i).unwrap();
        for c in [&mut red, &mut blue, &mut both] {
            assert_eq!(c.expect("marker").await, vec![json!(i)]);
        }
    }
    // Binary payloads cross the broker intact.
    nodes[0]
        .io
        .to("blue")
        .emit(
            "blob",
            &object! { "b" => bytes::Bytes::from_static(&[1, 2, 3]) },
        )
        .unwrap();
    let blob = blue.event().await;
    assert_eq!(blob.name, "blob");
    assert_eq!(
        blob.args,
        vec![json!({ "b": { "_placeholder": true, "num": 0 } })]
    );
}

/// `socket.broadcast` and `socket.to(room)` exclude the sender across nodes.
pub async fn socket_broadcasts_exclude_the_sender(connect: &Connect) {
    let nodes = start_nodes(connect, 2).await;
    let mut a = client(&nodes[0], &["room"]).await;
    let mut b = client(&nodes[1], &["room"]).await;
    let sender = nodes[0].io.of("/").socket(&a.sid).unwrap();
    sender.broadcast().emit("from-a", &1).unwrap();
    sender.to("room").emit("room-from-a", &2).unwrap();
    assert_eq!(b.expect("from-a").await, vec![json!(1)]);
    assert_eq!(b.expect("room-from-a").await, vec![json!(2)]);
    a.expect_nothing(Duration::from_millis(300)).await;
}

/// A broadcast with acks collects every client's answer from every node,
/// or returns the partial list on timeout.
pub async fn acks_from_clients_on_every_node(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(client(node, &["poll"]).await);
    }
    let collect = nodes[0]
        .io
        .to("poll")
        .timeout(Duration::from_secs(5))
        .emit_with_ack("vote", &())
        .unwrap();
    for (i, c) in clients.iter_mut().enumerate() {
        let event = c.event().await;
        assert_eq!(event.name, "vote");
        c.ack(event.ack.expect("an ack id"), &format!("[{i}]"))
            .await;
    }
    let mut votes: Vec<i64> = collect
        .await
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    votes.sort();
    assert_eq!(votes, vec![0, 1, 2]);

    // The client on node 2 stays silent: the answer is partial.
    let collect = nodes[1]
        .io
        .to("poll")
        .timeout(Duration::from_millis(800))
        .emit_with_ack("vote", &())
        .unwrap();
    for (i, c) in clients.iter_mut().enumerate() {
        let event = c.event().await;
        if i < 2 {
            c.ack(event.ack.unwrap(), "[\"yes\"]").await;
        }
    }
    let err = collect.await.unwrap_err();
    assert_eq!(err.responses, vec![Value::from("yes"), Value::from("yes")]);
    assert_eq!(err.expected, Some(3));
}

/// fetch_sockets sees every node's sockets with their rooms, data and
/// handshake; `local` sees this node's only.
pub async fn fetch_sockets_across_nodes(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let a = TestClient::connect(nodes[0].addr, r#"{"user":"ann"}"#).await;
    let b = client(&nodes[1], &["team"]).await;
    let c = client(&nodes[2], &["team"]).await;
    nodes[0]
        .io
        .of("/")
        .socket(&a.sid)
        .unwrap()
        .join("team")
        .await
        .unwrap();
    nodes[1]
        .io
        .of("/")
        .socket(&b.sid)
        .unwrap()
        .set_data(&object! { "level" => 7 })
        .unwrap();
    let team = nodes[0].io.in_("team").fetch_sockets().await.unwrap();
    let mut ids: Vec<String> = team.iter().map(|s| s.id.to_string()).collect();
    ids.sort();
    let mut expected = vec![a.sid.clone(), b.sid.clone(), c.sid.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let bee = team.iter().find(|s| s.id.as_str() == b.sid).unwrap();
    assert_eq!(bee.data.get("level"), Some(&Value::from(7)));
    assert!(bee.rooms.iter().any(|r| r == "team"));
    let ann = team.iter().find(|s| s.id.as_str() == a.sid).unwrap();
    assert_eq!(ann.handshake.auth.get("user"), Some(&Value::from("ann")));
    assert_eq!(nodes[2].io.local().fetch_sockets().await.unwrap().len(), 1);
    // A remote socket is reachable through the result.
    let mut c = c;
    team.iter()
        .find(|s| s.id.as_str() == c.sid)
        .unwrap()
        .emit("direct", &"hi")
        .unwrap();
    assert_eq!(c.expect("direct").await, vec![json!("hi")]);
}

/// sockets_join, sockets_leave and disconnect_sockets act on every node.
pub async fn join_leave_and_disconnect_across_nodes(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let mut a = client(&nodes[0], &[]).await;
    let mut b = client(&nodes[1], &["vip"]).await;
    let mut c = client(&nodes[2], &[]).await;
    nodes[0].io.sockets_join("everyone").await.unwrap();
    if nodes[0].cluster.format().membership() != crate::format::Membership::Heartbeat {
        // Node's format: its servers never confirm a join, so a broadcast
        // from another node may overtake it (as between Node servers).
        settle().await;
    }
    nodes[2].io.to("everyone").emit("e", &1).unwrap();
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.expect("e").await, vec![json!(1)]);
    }
    nodes[0].io.in_("vip").sockets_leave("everyone");
    settle().await;
    nodes[2].io.to("everyone").emit("e", &2).unwrap();
    assert_eq!(a.expect("e").await, vec![json!(2)]);
    assert_eq!(c.expect("e").await, vec![json!(2)]);
    b.expect_nothing(Duration::from_millis(300)).await;
    nodes[0].io.in_("vip").disconnect_sockets(true);
    assert!(b.closed().await, "the vip was disconnected by another node");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(nodes[1].io.of("/").socket_count(), 0);
    assert_eq!(nodes[0].io.of("/").socket_count(), 1);
}

/// server_side_emit reaches the other nodes' handlers and collects their answers.
pub async fn server_side_emit_with_acks(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let answers = nodes[0]
        .io
        .of("/")
        .server_side_emit_with_ack("hello", vec![Value::from("there")], Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(answers.missing, 0);
    assert_eq!(answers.items.len(), 2, "one answer per other node");
    for answer in &answers.items {
        assert_eq!(
            answer.get("got"),
            Some(&Value::Array(vec![Value::from("there")]))
        );
    }
    nodes[1]
        .io
        .of("/")
        .server_side_emit("hello", vec![])
        .await
        .unwrap();
}

/// 1,000 messages in a burst to a room reach every client on the other
/// nodes in publish order, none lost, none twice.
pub async fn a_burst_arrives_in_order(connect: &Connect) {
    let nodes = start_nodes(connect, 3).await;
    let mut b = client(&nodes[1], &["burst"]).await;
    let mut c = client(&nodes[2], &["burst"]).await;
    for i in 0..1000 {
        nodes[0].io.to("burst").emit("n", &i).unwrap();
    }
    for x in [&mut b, &mut c] {
        for i in 0..1000 {
            assert_eq!(x.expect("n").await, vec![json!(i)]);
        }
        x.expect_nothing(Duration::from_millis(200)).await;
    }
}

/// A publisher's broadcasts to one room, to two rooms and to everyone
/// reach a member of those rooms on another node in publish order, though
/// brokers that route by room carry them on different channels.
pub async fn room_and_namespace_broadcasts_keep_their_order(connect: &Connect) {
    let nodes = start_nodes(connect, 2).await;
    let mut b = client(&nodes[1], &["mixed", "other"]).await;
    for i in 0..600 {
        let to = match i % 3 {
            0 => nodes[0].io.to("mixed"),
            1 => nodes[0].io.to(vec!["mixed", "other"]),
            _ => nodes[0].io.of("/").broadcast(),
        };
        to.emit("n", &i).unwrap();
    }
    for i in 0..600 {
        assert_eq!(b.expect("n").await, vec![json!(i)], "in publish order");
    }
    b.expect_nothing(Duration::from_millis(200)).await;
}

/// Malformed or foreign bytes on the cluster channels are skipped; the
/// subscription keeps working.
pub async fn malformed_messages_are_skipped(connect: &Connect) {
    let nodes = start_nodes(connect, 2).await;
    let mut b = client(&nodes[1], &["room"]).await;
    let broker = nodes[0].cluster.broker();
    let mut channels = nodes[1]
        .cluster
        .format()
        .channels(&"/".into(), nodes[1].cluster.uid());
    channels.push(Channel::Room {
        ns: "/".into(),
        room: "room".into(),
    });
    for garbage in [
        &b"not msgpack"[..],
        &[0x81, 0xa3, b'u', b'i', b'd', 0x05][..],
        &[0xc1][..],
        &[][..],
    ] {
        for channel in &channels {
            broker.publish(channel, bytes::Bytes::copy_from_slice(garbage));
        }
    }
    nodes[0].io.to("room").emit("still", &"working").unwrap();
    assert_eq!(b.expect("still").await, vec![json!("working")]);
    // Bytes that name no publisher may be read on another worker than the
    // broadcast after them: each is counted, though maybe a moment later.
    let expected = 4 * channels.len() as u64;
    let start = Instant::now();
    while nodes[1].cluster.skipped_messages() < expected {
        assert!(
            start.elapsed() < WAIT,
            "{} of {expected} skipped",
            nodes[1].cluster.skipped_messages()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A node only receives room broadcasts while it has members in the room.
pub async fn room_subscriptions_follow_membership(connect: &Connect) {
    let nodes = start_nodes(connect, 2).await;
    let mut b = client(&nodes[1], &[]).await;
    let socket = nodes[1].io.of("/").socket(&b.sid).unwrap();
    socket.join("later").await.unwrap();
    nodes[0].io.to("later").emit("in", &1).unwrap();
    assert_eq!(b.expect("in").await, vec![json!(1)]);
    socket.leave("later");
    settle().await;
    nodes[0].io.to("later").emit("in", &2).unwrap();
    b.expect_nothing(Duration::from_millis(300)).await;
    socket.join("later").await.unwrap();
    nodes[0].io.to("later").emit("in", &3).unwrap();
    assert_eq!(b.expect("in").await, vec![json!(3)]);
}
