//! The server API on one node: broadcast operators, acknowledgements both
//! ways, fetch/join/leave/disconnect, disconnect reasons, ordering,
//! volatile packets, the slow-client budget, dynamic namespaces, and
//! mounting in axum.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::engine::EngineConfig;
use switchyard_core::{
    AckError, DisconnectReason, Event, ServerConfig, Socket, SocketIo, Value, object,
};

fn config() -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
}

/// Records disconnect reasons by socket id.
#[derive(Clone, Default)]
struct Reasons(Arc<Mutex<Vec<(String, DisconnectReason)>>>);

impl Reasons {
    fn install(&self, io: &SocketIo, ns: &str) {
        let reasons = self.clone();
        io.of(ns).on_connection(move |socket: Socket| {
            let reasons = reasons.clone();
            async move {
                socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                    let reasons = reasons.clone();
                    async move { reasons.0.lock().push((socket.id().to_string(), reason)) }
                });
            }
        });
    }

    async fn of(&self, sid: &str) -> DisconnectReason {
        eventually(|| self.0.lock().iter().any(|(s, _)| s == sid)).await;
        self.0.lock().iter().find(|(s, _)| s == sid).unwrap().1
    }
}

async fn expect_event(ws: &mut Ws, expected: &str) {
    assert_eq!(ws.text().await, expected);
}

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
