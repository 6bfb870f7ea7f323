//! Sessions without sticky load balancing, on two servers in one process:
//! polling requests and WebSocket upgrades that reach the node not owning
//! the session are forwarded to the owner; an unknown or gone owner gets
//! "Session ID unknown" at once; nothing is forwarded twice.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use http::StatusCode;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::engine::{FORWARDED_HEADER, SessionRouter};
use switchyard_core::{Event, ServerConfig, Socket, SocketIo};

/// Tags → addresses, filled once the servers listen.
#[derive(Clone, Default)]
struct Directory(Arc<Mutex<HashMap<String, String>>>);

struct Router {
    tag: String,
    directory: Directory,
}

impl SessionRouter for Router {
    fn tag(&self) -> &str {
        &self.tag
    }
    fn owner(&self, tag: &str) -> Option<String> {
        self.directory.0.lock().get(tag).cloned()
    }
}

async fn node(tag: &str, directory: &Directory) -> (SocketIo, SocketAddr) {
    let router = Arc::new(Router {
        tag: tag.into(),
        directory: directory.clone(),
    });
    let config = ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
    .session_router(router);
    let (io, addr) = start_io(config).await;
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let _ = event.ack_args(args);
        });
    });
    directory.0.lock().insert(tag.into(), addr.to_string());
    (io, addr)
}

#[tokio::test]
async fn polling_requests_reach_the_owner_through_any_node() {
    let directory = Directory::default();
    let (a, a_addr) = node("aaaa", &directory).await;
    let (b, b_addr) = node("bbbb", &directory).await;
    let sid = polling_session(a_addr, "/socket.io/").await;
    assert!(sid.ends_with(".aaaa"), "{sid}");
    let uri = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // Every request goes to the other node: CONNECT, an event, the answers.
    assert_eq!(post(b_addr, &uri, "40").await.body, "ok");
    assert!(get(b_addr, &uri).await.body.starts_with("40{\"sid\""));
    assert_eq!(
        post(b_addr, &uri, r#"421["echo","hi",{"n":1}]"#).await.body,
        "ok"
    );
    assert_eq!(get(b_addr, &uri).await.body, r#"431["hi",{"n":1}]"#);
    assert_eq!(a.of("/").socket_count(), 1, "the socket lives on its owner");
    assert_eq!(b.of("/").socket_count(), 0);
    assert_eq!(b.stats().forwarded_requests, 4);
    assert_eq!(a.stats().forwarded_requests, 0);
}

#[tokio::test]
async fn websocket_upgrades_reach_the_owner_through_any_node() {
    let directory = Directory::default();
    let (a, a_addr) = node("aaaa", &directory).await;
    let (_b, b_addr) = node("bbbb", &directory).await;
    let sid = polling_session(a_addr, "/socket.io/").await;
    let uri = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(a_addr, &uri, "40").await.body, "ok");
    assert!(get(a_addr, &uri).await.body.starts_with("40{"));
    // The upgrade lands on the other node.
    let mut ws = Ws::connect(
        b_addr,
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
    )
    .await
    .unwrap();
    ws.send("2probe").await;
    assert_eq!(ws.text().await, "3probe");
    ws.send("5").await;
    ws.send(r#"421["echo","over the relay"]"#).await;
    assert_eq!(ws.text().await, r#"431["over the relay"]"#);
    let socket = a.of("/").sockets().pop().unwrap();
    assert_eq!(
        socket.transport(),
        switchyard_core::engine::TransportKind::WebSocket
    );
}

#[tokio::test]
async fn unknown_or_gone_owners_are_refused_at_once() {
    let directory = Directory::default();
    let (_a, a_addr) = node("aaaa", &directory).await;
    let unknown = |sid: &str| format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let started = Instant::now();
    // A tag nobody has, an unreachable owner, no tag at all.
    directory
        .0
        .lock()
        .insert("dead".into(), "127.0.0.1:1".into());
    for sid in [
        "0123456789012345678901.zzzz",
        "0123456789012345678901.dead",
        "0123456789012345678901",
    ] {
        let answer = get(a_addr, &unknown(sid)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{sid}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"code": 1, "message": "Session ID unknown"})
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no hang: {:?}",
        started.elapsed()
    );
    // A request already forwarded is never forwarded again.
    let (_b, b_addr) = node("bbbb", &directory).await;
    let sid = polling_session(b_addr, "/socket.io/").await;
    let answer = request(
        a_addr,
        http::Method::GET,
        &unknown(&sid),
        "",
        &[(FORWARDED_HEADER, "1")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}
