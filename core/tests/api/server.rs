//! Dynamic namespaces, the handshake and typed socket state, mounting in
//! axum, write coalescing, and handlers found by events sent at once.

use super::*;

#[tokio::test]
async fn dynamic_namespaces_by_pattern_and_predicate() {
    let (io, addr) = start_io(config()).await;
    let rooms = io.of_pattern(r"^/room-\d+$").unwrap();
    rooms.on_connection(|socket: Socket| async move {
        let _ = socket.emit("in", socket.ns().name().as_str());
    });
    let teams =
        io.of_predicate(|name, auth| name.starts_with("/team-") && auth.get("member").is_some());
    teams.use_middleware(|socket: Socket| async move {
        socket
            .set_data(&"checked")
            .map_err(|e| switchyard_core::ConnectError::new(e.to_string()))
    });
    teams.on_connection(|socket: Socket| async move {
        let _ = socket.emit("data", &socket.data::<String>());
    });
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40/room-12").await;
    assert!(ws.text().await.starts_with("40/room-12,"));
    assert_eq!(ws.text().await, r#"42/room-12,["in","/room-12"]"#);
    ws.send("40/room-x").await;
    assert_eq!(
        ws.text().await,
        r#"44/room-x,{"message":"Invalid namespace"}"#
    );
    ws.send(r#"40/team-a,{"member":true}"#).await;
    assert!(ws.text().await.starts_with("40/team-a,"));
    assert_eq!(ws.text().await, r#"42/team-a,["data","checked"]"#);
    ws.send("40/team-b").await;
    assert_eq!(
        ws.text().await,
        r#"44/team-b,{"message":"Invalid namespace"}"#
    );
    assert_eq!(rooms.children().len(), 1);
    rooms.emit("all-rooms", &()).unwrap();
    assert_eq!(ws.text().await, r#"42/room-12,["all-rooms",null]"#);
}

#[tokio::test]
async fn handshake_and_typed_socket_state() {
    #[derive(Clone, Debug, PartialEq)]
    struct Session(u32);
    let (io, addr) = start_io(config()).await;
    let (_ws, sid) = {
        let (mut ws, _) = Ws::connect(addr, "/socket.io/?EIO=4&transport=websocket&lang=fr")
            .await
            .map(|ws| (ws, ()))
            .unwrap();
        ws.text().await;
        ws.send(r#"40{"token":"t"}"#).await;
        let connect = ws.text().await;
        let sid = serde_json::from_str::<serde_json::Value>(&connect[2..]).unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        (ws, sid)
    };
    let socket = io.of("/").socket(&sid).unwrap();
    let hs = socket.handshake();
    assert_eq!(hs.query_param("lang"), Some("fr"));
    assert_eq!(hs.auth.get("token").and_then(Value::as_str), Some("t"));
    assert_eq!(hs.address, "127.0.0.1");
    assert!(hs.url.starts_with("/socket.io/?EIO=4"));
    assert!(hs.header("host").is_some());
    assert!(hs.issued > 0 && hs.time.ends_with("(Coordinated Universal Time)"));
    socket.insert_extension(Session(7));
    assert_eq!(socket.extension::<Session>(), Some(Session(7)));
    socket.set_data(&vec![1, 2]).unwrap();
    assert_eq!(socket.data::<Vec<u8>>(), Some(vec![1, 2]));
}

#[tokio::test]
async fn mounts_in_axum_next_to_other_routes() {
    let io = SocketIo::new(config());
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("hello", "from axum");
    });
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "home" }))
        .route_service("/socket.io/", io.service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(get(addr, "/").await.body, "home");
    let (mut ws, _) = sio_connect(addr, "").await;
    expect_event(&mut ws, r#"42["hello","from axum"]"#).await;
    // Long-polling through axum too.
    let sid = polling_session(addr, "/socket.io/").await;
    assert_eq!(
        post(
            addr,
            &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
            "40"
        )
        .await
        .body,
        "ok"
    );
}

#[tokio::test]
async fn write_coalescing_holds_frames_then_writes_them_in_order() {
    let mut config = config();
    config.engine.write_delay = Duration::from_millis(600);
    // Held pings reach the client late: give it time to answer.
    config.engine.ping_interval = Duration::from_secs(10);
    config.engine.ping_timeout = Duration::from_secs(5);
    let (io, addr) = start_io(config).await;
    let (mut ws, sid) = sio_connect(addr, "").await;
    let socket = io.of("/").socket(&sid).unwrap();

    // The first frame starts the hold; the ones queued meanwhile join it.
    socket.emit("a", &1).unwrap();
    ws.silent_for(Duration::from_millis(150)).await;
    socket.emit("b", &2).unwrap();
    io.emit("c", &3).unwrap();
    expect_event(&mut ws, r#"42["a",1]"#).await;
    expect_event(&mut ws, r#"42["b",2]"#).await;
    expect_event(&mut ws, r#"42["c",3]"#).await;

    // Closing does not wait for the hold: held frames, then the close.
    socket.emit("d", &4).unwrap();
    socket.disconnect(true);
    expect_event(&mut ws, r#"42["d",4]"#).await;
    expect_event(&mut ws, "41").await;
    ws.closed().await;
}

/// A connection handler registers its event handlers before the client
/// hears it is connected, also when the CONNECT is finished off the
/// connection's task (a middleware, or recovery): an event the client sends
/// at once is handled. What the handler emits follows the CONNECT reply, and
/// a handler that disconnects its socket sends the reply first, as in Node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_at_once_after_connecting_find_their_handlers() {
    let (io, addr) = start_io(config()).await;
    io.use_middleware(|_: Socket| async move {
        tokio::task::yield_now().await;
        Ok::<(), switchyard_core::ConnectError>(())
    });
    io.on_connection(|socket: Socket| async move {
        if socket.auth().get("leave").is_some() {
            return socket.disconnect(false);
        }
        let _ = socket.emit("welcome", &1);
        // A slow start: the handler's thread is busy for a while before it
        // registers, and hands its other work (the client's connection) to
        // another worker meanwhile.
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(200)));
        socket.on("echo", |_: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let _ = event.ack_args(args);
        });
    });
    for _ in 0..3 {
        let (mut ws, _) = sio_connect(addr, "").await;
        ws.send(r#"421["echo","now"]"#).await;
        assert_eq!(ws.text().await, r#"42["welcome",1]"#);
        let ack = tokio::time::timeout(Duration::from_secs(5), ws.text()).await;
        assert_eq!(
            ack.as_deref().ok(),
            Some(r#"431["now"]"#),
            "the event was lost"
        );
    }
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(r#"40{"leave":true}"#).await;
    assert!(ws.text().await.starts_with("40{"));
    assert_eq!(ws.text().await, "41");
}
