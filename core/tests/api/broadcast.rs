//! Broadcast operators, acknowledgements both ways, and fetch/join/leave/
//! disconnect across the namespace's sockets.

use super::*;

#[tokio::test]
async fn broadcast_operators_target_the_right_sockets() {
    let (io, addr) = start_io(config()).await;
    let (mut a, sa) = sio_connect(addr, "").await;
    let (mut b, sb) = sio_connect(addr, "").await;
    let (mut c, sc) = sio_connect(addr, "").await;
    let ns = io.of("/");
    let (a_sock, b_sock, c_sock) = (
        ns.socket(&sa).unwrap(),
        ns.socket(&sb).unwrap(),
        ns.socket(&sc).unwrap(),
    );
    a_sock.join("r1").await.unwrap();
    b_sock.join(["r1", "r2"]).await.unwrap();
    c_sock.join(vec!["r2".to_string()]).await.unwrap();
    assert_eq!(b_sock.rooms().len(), 3, "own room plus two");

    // Each step ends with a marker to all, so "nothing else arrived" is checked.
    let marker = |io: &SocketIo| io.emit("marker", &()).unwrap();
    io.to("r1").emit("x", &1).unwrap();
    marker(&io);
    expect_event(&mut a, r#"42["x",1]"#).await;
    expect_event(&mut b, r#"42["x",1]"#).await;
    for ws in [&mut a, &mut b, &mut c] {
        expect_event(ws, r#"42["marker",null]"#).await;
    }
    io.to(["r1", "r2"]).emit("y", &2).unwrap();
    for ws in [&mut a, &mut b, &mut c] {
        expect_event(ws, r#"42["y",2]"#).await;
    }
    io.except("r2").emit("z", &3).unwrap();
    io.to("r1").except("r2").emit("w", &4).unwrap();
    marker(&io);
    expect_event(&mut a, r#"42["z",3]"#).await;
    expect_event(&mut a, r#"42["w",4]"#).await;
    for ws in [&mut a, &mut b, &mut c] {
        expect_event(ws, r#"42["marker",null]"#).await;
    }
    a_sock.broadcast().emit("from-a", "hi").unwrap();
    a_sock.to("r1").emit("a-to-r1", "hi").unwrap();
    marker(&io);
    expect_event(&mut b, r#"42["from-a","hi"]"#).await;
    expect_event(&mut b, r#"42["a-to-r1","hi"]"#).await;
    expect_event(&mut c, r#"42["from-a","hi"]"#).await;
    for ws in [&mut a, &mut b, &mut c] {
        expect_event(ws, r#"42["marker",null]"#).await;
    }
    a_sock.leave("r1");
    io.to("r1").emit("after-leave", &()).unwrap();
    marker(&io);
    expect_event(&mut a, r#"42["marker",null]"#).await;
    expect_event(&mut b, r#"42["after-leave",null]"#).await;
}

#[tokio::test]
async fn server_emit_with_ack_answers_times_out_or_fails_on_disconnect() {
    let (io, addr) = start_io(config()).await;
    let (mut ws, sid) = sio_connect(addr, "").await;
    let socket = io.of("/").socket(&sid).unwrap();

    let pending = socket.emit_with_ack("question", &"what?");
    let packet = ws.text().await;
    let id: u64 = packet[2..packet.find('[').unwrap()].parse().unwrap();
    assert_eq!(
        &packet[packet.find('[').unwrap()..],
        r#"["question","what?"]"#
    );
    ws.send(&format!(r#"43{id}["answer",42]"#)).await;
    assert_eq!(
        pending.await.unwrap(),
        vec![Value::from("answer"), Value::from(42)]
    );

    let started = std::time::Instant::now();
    let unanswered = socket
        .timeout(Duration::from_millis(150))
        .emit_with_ack("question", &1);
    assert!(matches!(unanswered.await, Err(AckError::Timeout)));
    assert!(started.elapsed() >= Duration::from_millis(150));
    ws.text().await;

    let orphan = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack("question", &2);
    ws.send("41").await;
    assert!(matches!(orphan.await, Err(AckError::Disconnected)));
    assert!(matches!(
        socket.emit("late", &()),
        Err(switchyard_core::EmitError::Disconnected)
    ));
}

#[tokio::test]
async fn broadcast_with_ack_collects_every_answer_or_the_partial_list() {
    let (io, addr) = start_io(config()).await;
    let (mut a, _) = sio_connect(addr, "").await;
    let (mut b, sb) = sio_connect(addr, "").await;
    let answer = |packet: &str, value: &str| {
        let id: u64 = packet[2..packet.find('[').unwrap()].parse().unwrap();
        format!("43{id}[{value}]")
    };
    let all = io
        .timeout(Duration::from_secs(2))
        .emit_with_ack("vote", &())
        .unwrap();
    let pa = a.text().await;
    let pb = b.text().await;
    assert_eq!(pa, pb, "one packet, one ack id, for every recipient");
    a.send(&answer(&pa, "\"yes\"")).await;
    b.send(&answer(&pb, "\"no\"")).await;
    let mut votes = all.await.unwrap();
    votes.sort_by_key(|v| v.as_str().map(str::to_owned));
    assert_eq!(votes, vec![Value::from("no"), Value::from("yes")]);

    let partial = io
        .timeout(Duration::from_millis(200))
        .emit_with_ack("vote", &())
        .unwrap();
    let pa = a.text().await;
    b.text().await;
    a.send(&answer(&pa, "1")).await;
    let err = partial.await.unwrap_err();
    assert_eq!(err.responses, vec![Value::from(1)]);
    assert_eq!(err.expected, Some(2));

    // A single-socket target through the operator.
    let one = io
        .to(sb.as_str())
        .timeout(Duration::from_secs(2))
        .emit_with_ack("solo", &())
        .unwrap();
    let pb = b.text().await;
    b.send(&answer(&pb, "\"me\"")).await;
    assert_eq!(one.await.unwrap(), vec![Value::from("me")]);
}

#[tokio::test]
async fn fetch_join_leave_and_disconnect_sockets() {
    let (io, addr) = start_io(config()).await;
    let reasons = Reasons::default();
    reasons.install(&io, "/");
    let (mut a, sa) = sio_connect(addr, r#"{"user":"ann"}"#).await;
    let (mut b, sb) = sio_connect(addr, "").await;
    let ns = io.of("/");
    ns.socket(&sa)
        .unwrap()
        .set_data(&object! { "role" => "admin" })
        .unwrap();
    io.sockets_join("everyone");
    io.in_(sa.as_str()).sockets_join(["vip"]);
    let vips = io.in_("vip").fetch_sockets().await.unwrap();
    assert_eq!(vips.len(), 1);
    let ann = &vips[0];
    assert_eq!(ann.id.as_str(), sa);
    assert_eq!(ann.data.get("role"), Some(&Value::from("admin")));
    assert_eq!(ann.handshake.auth.get("user"), Some(&Value::from("ann")));
    let mut rooms: Vec<_> = ann.rooms.iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut expected = vec!["everyone".to_string(), "vip".to_string(), sa.clone()];
    expected.sort();
    assert_eq!(rooms, expected);
    assert_eq!(io.in_("everyone").fetch_sockets().await.unwrap().len(), 2);

    io.in_("vip").sockets_leave("everyone");
    assert_eq!(io.in_("everyone").fetch_sockets().await.unwrap().len(), 1);
    ann.emit("direct", &"to ann").unwrap();
    expect_event(&mut a, r#"42["direct","to ann"]"#).await;

    io.in_(sb.as_str()).disconnect_sockets(false);
    expect_event(&mut b, "41").await;
    assert_eq!(
        reasons.of(&sb).await,
        DisconnectReason::ServerNamespaceDisconnect
    );
    ann.disconnect(true);
    expect_event(&mut a, "41").await;
    a.closed().await;
    assert_eq!(
        reasons.of(&sa).await,
        DisconnectReason::ServerNamespaceDisconnect
    );
}
