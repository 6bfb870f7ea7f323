//! Every budget of `ClientLimits`, `EngineConfig` and `HttpLimits`: what a
//! client gets past it (the protocol's answer), and the refusal counted.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::Duration;
use switchyard_core::engine::HttpLimits;
use switchyard_core::limits::{ClientLimits, Rate, Refused};
use switchyard_core::protocol::DecodeLimits;
use switchyard_core::{Event, JoinError, ServerConfig, Socket, SocketIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(limits: ClientLimits) -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        limits,
        ..ServerConfig::default()
    }
}

fn echo_handlers(io: &SocketIo) {
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let _ = event.ack_args(args);
        });
    });
}

#[tokio::test]
async fn a_packet_over_the_element_budget_closes_its_connection() {
    let limits = ClientLimits {
        decode: DecodeLimits { max_elements: 1000 },
        ..ClientLimits::default()
    };
    let (io, addr) = start_io(config(limits)).await;
    echo_handlers(&io);
    let before = Refused::PacketElements.count();
    let (mut ws, _) = sio_connect(addr, "").await;
    let fits = format!(r#"421["echo",[{}0]]"#, "0,".repeat(900));
    ws.send(&fits).await;
    assert!(ws.text().await.starts_with("431[["));
    let over = format!(r#"422["echo",[{}0]]"#, "0,".repeat(5000));
    ws.send(&over).await;
    ws.closed().await;
    assert!(Refused::PacketElements.count() > before);
}

#[tokio::test]
async fn a_handshake_over_its_budget_is_refused_with_connect_error() {
    let limits = ClientLimits {
        max_handshake_bytes: 4096,
        ..ClientLimits::default()
    };
    let (_io, addr) = start_io(config(limits)).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(&format!(r#"40{{"token":"{}"}}"#, "t".repeat(8000)))
        .await;
    assert_eq!(ws.text().await, r#"44{"message":"Handshake too large"}"#);
    // A small one still connects on the same connection.
    ws.send(r#"40{"token":"ok"}"#).await;
    assert!(ws.text().await.starts_with("40{"));
}

#[tokio::test]
async fn namespace_connects_are_rate_limited_and_counted() {
    let limits = ClientLimits {
        connect_rate: Some(Rate::new(0.01, 3)),
        max_namespaces_per_client: 2,
        ..ClientLimits::default()
    };
    let (io, addr) = start_io(config(limits)).await;
    for ns in ["/a", "/b", "/c"] {
        io.of(ns);
    }
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40/a,").await;
    assert!(ws.text().await.starts_with("40/a,{"));
    ws.send("40/b,").await;
    assert!(ws.text().await.starts_with("40/b,{"));
    ws.send("40/c,").await;
    assert_eq!(
        ws.text().await,
        r#"44/c,{"message":"Too many namespaces"}"#,
        "two namespaces at most"
    );
    ws.send("41/b,").await;
    ws.send("40/c,").await;
    assert_eq!(
        ws.text().await,
        r#"44/c,{"message":"Too many namespace connections"}"#,
        "the burst of three is spent"
    );
}

#[tokio::test]
async fn dynamic_namespaces_stop_at_their_limit() {
    let limits = ClientLimits {
        max_dynamic_namespaces: 2,
        ..ClientLimits::default()
    };
    let (io, addr) = start_io(config(limits)).await;
    io.of_pattern(r"^/room-\d+$").unwrap();
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    for n in 1..=2 {
        ws.send(&format!("40/room-{n},")).await;
        assert!(ws.text().await.starts_with(&format!("40/room-{n},{{")));
    }
    ws.send("40/room-3,").await;
    assert_eq!(
        ws.text().await,
        r#"44/room-3,{"message":"Namespace limit reached"}"#
    );
    // Existing ones stay reachable.
    let (mut other, _) = Ws::open(addr, "/socket.io/").await;
    other.send("40/room-1,").await;
    assert!(other.text().await.starts_with("40/room-1,{"));
}

#[tokio::test]
async fn joins_past_the_room_limits_are_refused() {
    let limits = ClientLimits {
        max_rooms_per_socket: 3,
        max_room_name_bytes: 8,
        ..ClientLimits::default()
    };
    let (io, addr) = start_io(config(limits)).await;
    let (_ws, sid) = sio_connect(addr, "").await;
    let socket = io.of("/").socket(&sid).unwrap();
    // Its own room is one of the three.
    socket.join(["a", "b"]).await.unwrap();
    socket.join("a").await.unwrap();
    assert_eq!(socket.join("c").await, Err(JoinError::TooManyRooms(3)));
    assert_eq!(
        socket.join("much-too-long").await,
        Err(JoinError::NameTooLong(8))
    );
    socket.leave("b");
    socket.join("c").await.unwrap();
    assert_eq!(socket.rooms().len(), 3);
}

#[tokio::test]
async fn a_socket_sending_events_too_fast_is_disconnected() {
    let limits = ClientLimits {
        event_rate: Some(Rate::new(0.01, 5)),
        ..ClientLimits::default()
    };
    let (io, addr) = start_io(config(limits)).await;
    echo_handlers(&io);
    let (mut ws, _) = sio_connect(addr, "").await;
    for i in 0..5 {
        ws.send(&format!(r#"42{i}["echo",{i}]"#)).await;
        assert_eq!(ws.text().await, format!("43{i}[{i}]"));
    }
    ws.send(r#"425["echo",5]"#).await;
    assert_eq!(ws.text().await, "41", "a DISCONNECT, not an answer");
}

/// A polling session joined to `/`, its CONNECT reply fetched.
async fn polling_socket(addr: std::net::SocketAddr) -> String {
    let sid = polling_session(addr, "/socket.io/").await;
    let uri = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(addr, &uri, "40").await.body, "ok");
    assert!(get(addr, &uri).await.body.starts_with("40{"));
    sid
}

#[tokio::test]
async fn a_client_past_its_byte_budget_is_disconnected_and_volatile_packets_dropped() {
    let mut config = config(ClientLimits::default());
    config.engine.max_client_buffer_bytes = 10_000;
    let (io, addr) = start_io(config).await;
    let sid = polling_socket(addr).await;
    let uri = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let socket = io.of("/").sockets().pop().unwrap();
    let before = Refused::ClientBuffer.count();
    // One packet larger than the budget fits an empty queue.
    socket.emit("big", &"x".repeat(20_000)).unwrap();
    let answer = get(addr, &uri).await;
    assert!(answer.body.len() > 20_000);
    // Volatile packets are dropped while data waits, not queued.
    socket.emit("a", &"y".repeat(1000)).unwrap();
    for _ in 0..100 {
        socket.volatile().emit("v", &"z".repeat(1000)).unwrap();
    }
    // Then the budget disconnects.
    let mut refused = false;
    for _ in 0..20 {
        if socket.emit("more", &"w".repeat(1000)).is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "past the budget the emit fails");
    eventually(|| !socket.connected()).await;
    assert!(Refused::ClientBuffer.count() > before);
    assert_eq!(get(addr, &uri).await.status, 400);
}

#[tokio::test]
async fn pings_from_a_client_that_does_not_read_get_one_pong() {
    let (_io, addr) = start_io(config(ClientLimits::default())).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    // 2,000 masked pings in one write.
    let mut pings = Vec::new();
    for _ in 0..2000 {
        pings.extend_from_slice(&[
            0x89,
            0x84,
            1,
            2,
            3,
            4,
            b'p' ^ 1,
            b'i' ^ 2,
            b'n' ^ 3,
            b'g' ^ 4,
        ]);
    }
    tcp.write_all(&pings).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let pongs = seen.windows(2).filter(|w| w == &[0x8a, 0x04]).count();
    assert!((1..=10).contains(&pongs), "{pongs} pongs for 2,000 pings");
}

async fn raw_answer(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn http_limits_answer_431_408_503_and_429() {
    let mut config = config(ClientLimits::default());
    config.engine.http = HttpLimits {
        max_connections: 3,
        max_header_bytes: 8 * 1024,
        headers_timeout: Duration::from_millis(400),
        request_timeout: Duration::from_millis(400),
    };
    config.engine.session_rate_per_address = Some(Rate::new(0.01, 2));
    let (_io, addr) = start_io(config).await;

    let big = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nx-pad: {}\r\n\r\n",
        "p".repeat(10_000)
    );
    assert!(
        raw_answer(addr, big.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );

    // Two sessions, then 429 from the same address.
    let sid = polling_session(addr, "/socket.io/").await;
    polling_session(addr, "/socket.io/").await;
    let third = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(third.status, 429);

    // A body that never comes: 408 at the request timeout.
    let slow = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n40"
    );
    assert!(
        raw_answer(addr, slow.as_bytes())
            .await
            .starts_with("HTTP/1.1 408")
    );

    // A head that never ends is closed at the headers timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    silent.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(WAIT, silent.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "closed at the headers timeout");

    // Three connections held open: the fourth is answered 503.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = raw_answer(
        addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.ends_with(r#"{"message":"Server is at its connection limit"}"#));
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = raw_answer(
        addr,
        b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(again.starts_with("HTTP/1.1 404"), "{again}");
}
