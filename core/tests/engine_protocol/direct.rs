//! Writes from the producing task (`ws::direct`): over plain TCP a packet is
//! written by whoever produced it while the socket is free; what does not
//! fit goes to the connection's task. The stream must stay whole and in
//! order whoever writes, and the socket must close with its connection.

use super::*;
use std::sync::Arc;
use switchyard_core::engine::{CloseReason, Engine, Frame, Push};

/// The suite's settings, with direct writes on (as by default).
fn direct_config() -> EngineConfig {
    EngineConfig {
        direct_writes: true,
        ..suite_engine_config(P)
    }
}

const PRODUCERS: usize = 4;
const PER_PRODUCER: usize = 400;
/// Large enough that 4 × 400 of them fill the socket's buffers many times.
const PAD: usize = 8 * 1024;

/// Four tasks push numbered 8 KB messages to one session while its client
/// reads nothing and sends WebSocket pings (whose pongs the connection task
/// writes between the producers' writes); then the client reads all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_write_beside_a_full_socket_in_order() {
    let (engine, addr) = start_echo(EngineConfig {
        max_client_buffer_bytes: 64 << 20,
        max_buffered_packets: 10_000,
        direct_writes: true,
        ..suite_engine_config(P)
    })
    .await;
    let (mut ws, open) = Ws::open(addr, P).await;
    let session = engine.session(open["sid"].as_str().unwrap()).unwrap();
    let pad = "x".repeat(PAD);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let session = session.clone();
            let pad = pad.clone();
            tokio::spawn(async move {
                for seq in 0..PER_PRODUCER {
                    let frame = Frame::message(&format!("{p}:{seq}:{pad}"));
                    assert_eq!(session.push(&[frame], false), Push::Queued);
                    if seq % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        ws.ping().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for p in producers {
        p.await.unwrap();
    }
    let mut next = [0usize; PRODUCERS];
    for _ in 0..PRODUCERS * PER_PRODUCER {
        let text = ws.text().await;
        let mut parts = text.strip_prefix('4').unwrap().splitn(3, ':');
        let p: usize = parts.next().unwrap().parse().unwrap();
        let seq: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(seq, next[p], "producer {p}'s messages out of order");
        assert_eq!(parts.next().unwrap(), pad, "a message arrived damaged");
        next[p] += 1;
    }
    let direct = engine.written_directly();
    let sent = engine.traffic()[2];
    assert!(direct > 0, "no message was written by its producer");
    assert!(
        direct < sent,
        "every message was written directly: the full socket was never met ({direct}/{sent})"
    );
    // The session still works both ways after all that.
    ws.send("4after").await;
    assert_eq!(ws.text().await, "4after");
}

/// An idle WebSocket's answers are written by the handler's task itself.
#[tokio::test]
async fn an_idle_session_is_written_by_its_producer() {
    let (engine, addr) = start_echo(direct_config()).await;
    let (mut ws, _) = Ws::open(addr, P).await;
    let before = engine.written_directly();
    for i in 0..10 {
        ws.send(&format!("4m{i}")).await;
        assert_eq!(ws.text().await, format!("4m{i}"));
    }
    assert!(engine.written_directly() >= before + 10);
}

/// With direct writes off, every answer goes through the connection task.
#[tokio::test]
async fn with_direct_writes_off_nothing_is_written_directly() {
    let (engine, addr) = start_echo(EngineConfig {
        direct_writes: false,
        ..suite_engine_config(P)
    })
    .await;
    let (mut ws, _) = Ws::open(addr, P).await;
    for i in 0..10 {
        ws.send(&format!("4m{i}")).await;
        assert_eq!(ws.text().await, format!("4m{i}"));
    }
    assert_eq!(engine.written_directly(), 0);
}

/// After an upgrade from polling the WebSocket gets its direct writer too,
/// and the packets queued during the upgrade still come first.
#[tokio::test]
async fn an_upgraded_session_is_written_by_its_producer() {
    let (engine, addr) = start_echo(direct_config()).await;
    let sid = polling_session(addr, P).await;
    let mut ws = upgrade_with_a_packet_in_between(addr, &sid).await;
    let session = engine.session(&sid).unwrap();
    let before = engine.written_directly();
    assert_eq!(
        session.push(&[Frame::message("direct")], false),
        Push::Queued
    );
    assert_eq!(ws.text().await, "4direct");
    assert_eq!(engine.written_directly(), before + 1);
}

/// A session closed by the server ends its TCP connection: the writer the
/// session held does not keep the socket open.
#[tokio::test]
async fn the_socket_closes_with_its_connection() {
    let (engine, addr) = start_echo(direct_config()).await;
    let (mut ws, open) = Ws::open(addr, P).await;
    let session: Arc<_> = engine.session(open["sid"].as_str().unwrap()).unwrap();
    session.push(&[Frame::message("last")], false);
    session.close(CloseReason::ForcedClose);
    assert_eq!(ws.text().await, "4last");
    ws.ended().await;
    // The session is still referenced here, and the socket is closed anyway.
    assert!(session.is_closed());
    drop::<Engine<Echo>>(engine);
}

/// Frames a client sends right behind its upgrade request (before the 101)
/// are read first: the HTTP server already took them from the socket.
#[tokio::test]
async fn frames_sent_with_the_upgrade_request_are_read() {
    let (_, addr) = start_echo(direct_config()).await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "GET {P}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    let mask = [7u8, 1, 2, 3];
    request.extend_from_slice(&[0x81, 0x80 | 6]);
    request.extend_from_slice(&mask);
    request.extend(b"4early".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before the echo: {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
            // The echo is an unmasked text frame of 6 bytes: 0x81 0x06 "4early".
            if seen.windows(8).any(|w| w == b"\x81\x064early") {
                return;
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no echo: {:?}",
        String::from_utf8_lossy(&seen)
    );
}
