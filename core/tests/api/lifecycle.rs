//! Disconnect reasons, ordering, slow handlers, volatile packets, the
//! slow-client budget, and middlewares that join rooms.

use super::*;

#[tokio::test]
async fn disconnect_reasons_are_named_as_in_node() {
    let (io, addr) = start_io(config()).await;
    let reasons = Reasons::default();
    reasons.install(&io, "/");
    reasons.install(&io, "/other");

    let (mut ws, sid) = sio_connect(addr, "").await;
    ws.send("41").await;
    assert_eq!(
        reasons.of(&sid).await,
        DisconnectReason::ClientNamespaceDisconnect
    );

    let (ws, sid) = sio_connect(addr, "").await;
    drop(ws);
    assert_eq!(reasons.of(&sid).await, DisconnectReason::TransportClose);

    let (mut ws, sid) = sio_connect(addr, "").await;
    ws.auto_pong = false;
    assert_eq!(ws.text().await, "2");
    assert_eq!(reasons.of(&sid).await, DisconnectReason::PingTimeout);

    let (mut ws, sid) = sio_connect(addr, "").await;
    ws.send("42{}").await;
    assert_eq!(reasons.of(&sid).await, DisconnectReason::ParseError);

    // disconnect(true) on "/" also ends "/other" on the same connection.
    let (mut ws, sid) = sio_connect(addr, "").await;
    ws.send("40/other").await;
    let other = ws.text().await;
    let other_sid = serde_json::from_str::<serde_json::Value>(&other["40/other,".len()..]).unwrap()
        ["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    io.of("/").socket(&sid).unwrap().disconnect(true);
    assert_eq!(
        reasons.of(&sid).await,
        DisconnectReason::ServerNamespaceDisconnect
    );
    assert_eq!(
        reasons.of(&other_sid).await,
        DisconnectReason::ServerNamespaceDisconnect
    );

    // A protocol violation on one namespace closes the connection: the
    // other namespaces hear "forced server close".
    let (mut ws, sid) = sio_connect(addr, "").await;
    ws.send(r#"42/nowhere,["x"]"#).await;
    assert_eq!(reasons.of(&sid).await, DisconnectReason::ForcedServerClose);

    let (_ws, sid) = sio_connect(addr, "").await;
    io.close().await;
    assert_eq!(reasons.of(&sid).await, DisconnectReason::ServerShuttingDown);
}

// Multi-threaded, where running each event as its own task reorders acks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn packets_to_one_client_keep_production_order() {
    let (io, addr) = start_io(config()).await;
    io.on_connection(|socket: Socket| async move {
        socket.on("seq", |_: Socket, event: Event| async move {
            let _ = event.ack(&event.args[0]);
        });
        socket.on("burst", |socket: Socket, _: Event| async move {
            for i in 0..1000 {
                let _ = socket.emit("n", &i);
            }
        });
    });
    let (mut ws, _) = sio_connect(addr, "").await;
    for i in 0..300 {
        ws.send(&format!(r#"42{i}["seq",{i}]"#)).await;
    }
    for i in 0..300 {
        assert_eq!(ws.text().await, format!("43{i}[{i}]"));
    }
    ws.send(r#"42["burst"]"#).await;
    for i in 0..1000 {
        assert_eq!(ws.text().await, format!(r#"42["n",{i}]"#));
    }
}

#[tokio::test]
async fn slow_handlers_do_not_block_the_connection() {
    let (io, addr) = start_io(config()).await;
    io.on_connection(|socket: Socket| async move {
        socket.on("slow", |socket: Socket, _: Event| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = socket.emit("slow-done", &());
        });
        socket.on("fast", |socket: Socket, _: Event| async move {
            let _ = socket.emit("fast-done", &());
        });
        socket.on("panic", |_: Socket, _: Event| async move {
            panic!("a handler bug")
        });
    });
    let (mut ws, _) = sio_connect(addr, "").await;
    ws.send(r#"42["slow"]"#).await;
    ws.send(r#"42["panic"]"#).await;
    ws.send(r#"42["fast"]"#).await;
    expect_event(&mut ws, r#"42["fast-done",null]"#).await;
    expect_event(&mut ws, r#"42["slow-done",null]"#).await;
}

#[tokio::test]
async fn volatile_packets_skip_clients_that_are_not_polling() {
    let (io, addr) = start_io(config()).await;
    let sid = polling_session(addr, "/socket.io/").await;
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    post(addr, &q, "40").await;
    assert!(get(addr, &q).await.body.starts_with("40{"));
    // No GET is waiting: a volatile packet is dropped, a normal one queued.
    io.volatile().emit("v", &1).unwrap();
    io.emit("n", &2).unwrap();
    assert_eq!(get(addr, &q).await.body, r#"42["n",2]"#);
    // With a GET waiting, volatile packets are delivered.
    let waiting = waiting_get(addr, &q).await;
    io.volatile().emit("v", &3).unwrap();
    assert_eq!(waiting.await.unwrap().body, r#"42["v",3]"#);
}

#[tokio::test]
async fn a_client_past_its_budget_is_disconnected_and_others_go_on() {
    let engine = EngineConfig {
        max_buffered_packets: 50,
        ping_interval: Duration::from_secs(20),
        ..EngineConfig::default()
    };
    let (io, addr) = start_io(ServerConfig {
        engine,
        ..ServerConfig::default()
    })
    .await;
    let reasons = Reasons::default();
    reasons.install(&io, "/");
    // The slow client polls once to connect, then never again.
    let sid = polling_session(addr, "/socket.io/").await;
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    post(addr, &q, "40").await;
    let connect = get(addr, &q).await.body;
    let slow_sid = serde_json::from_str::<serde_json::Value>(&connect[2..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut fast, _) = sio_connect(addr, "").await;
    for i in 0..60 {
        io.emit("tick", &i).unwrap();
        // The fast client keeps up.
        assert_eq!(fast.text().await, format!(r#"42["tick",{i}]"#));
    }
    assert_eq!(
        reasons.of(&slow_sid).await,
        DisconnectReason::OutgoingBufferFull
    );
    assert_eq!(get(addr, &q).await.status, http::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn middlewares_may_join_rooms_which_a_refusal_undoes() {
    let (io, addr) = start_io(config()).await;
    io.use_middleware(|socket: Socket| async move {
        let user = socket
            .auth()
            .get("user")
            .and_then(Value::as_str)
            .map(str::to_owned);
        socket.join("lobby").await.unwrap();
        match user {
            Some(user) => {
                socket.join(format!("user:{user}")).await.unwrap();
                Ok(())
            }
            None => Err(switchyard_core::ConnectError::new("who are you?")),
        }
    });
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40").await;
    assert_eq!(ws.text().await, r#"44{"message":"who are you?"}"#);
    assert!(
        io.of("/").adapter().rooms().is_empty(),
        "the refused socket left every room"
    );
    let (mut ann, _) = sio_connect(addr, r#"{"user":"ann"}"#).await;
    io.to("user:ann").emit("dm", &"hi ann").unwrap();
    expect_event(&mut ann, r#"42["dm","hi ann"]"#).await;
    io.to("lobby").emit("all", &()).unwrap();
    expect_event(&mut ann, r#"42["all",null]"#).await;
}
