//! Connection state recovery on one node, with a raw client: the `pid` in
//! the CONNECT reply, offsets on events, and a lost connection recovered
//! with its id, rooms, data and every missed packet, once.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value as Json, json};
use std::time::Duration;
use switchyard_core::{ConnectError, RecoveryConfig, ServerConfig, Socket, SocketIo};

fn config() -> ServerConfig {
    config_with(RecoveryConfig::default())
}

fn config_with(recovery: RecoveryConfig) -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
    .connection_state_recovery(recovery)
}

/// The CONNECT reply's `{sid, pid}`.
async fn connect(ws: &mut Ws, auth: &str) -> Json {
    ws.send(&format!("40{auth}")).await;
    let reply = ws.text().await;
    assert!(reply.starts_with("40{"), "{reply}");
    serde_json::from_str(&reply[2..]).unwrap()
}

/// The next event's arguments (name first).
async fn event(ws: &mut Ws) -> Vec<Json> {
    let text = ws.text().await;
    assert!(text.starts_with("42"), "{text}");
    serde_json::from_str(&text[2..]).unwrap()
}

fn start(io: &SocketIo) {
    io.on_connection(|socket: Socket| async move {
        if !socket.recovered() {
            socket.join("news").await.unwrap();
            socket.set_data(&json!({"name": "ann"})).unwrap();
        }
        let _ = socket.emit("welcome", &socket.recovered());
    });
}

#[tokio::test]
async fn a_lost_connection_is_recovered_with_everything_it_missed() {
    let (io, addr) = start_io(config()).await;
    start(&io);
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let first = connect(&mut ws, "").await;
    let (sid, pid) = (
        first["sid"].as_str().unwrap(),
        first["pid"].as_str().unwrap(),
    );
    let welcome = event(&mut ws).await;
    assert_eq!(welcome[..2], [json!("welcome"), json!(false)]);
    let offset = welcome[2].as_str().unwrap().to_owned();

    // The transport drops (no DISCONNECT packet: the client did not leave).
    drop(ws);
    eventually(|| io.of("/").socket_count() == 0).await;
    io.to("news").emit("news", &1).unwrap();
    io.emit("all", &2).unwrap();
    io.to("other").emit("other", &3).unwrap();
    io.except("news").emit("not-for-news", &4).unwrap();
    io.volatile().emit("volatile", &5).unwrap();

    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let auth = json!({"pid": pid, "offset": offset}).to_string();
    let second = connect(&mut ws, &auth).await;
    assert_eq!(
        (second["sid"].as_str(), second["pid"].as_str()),
        (Some(sid), Some(pid))
    );
    let names: Vec<Json> = [event(&mut ws).await, event(&mut ws).await]
        .iter()
        .map(|args| args[..2].to_vec().into())
        .collect();
    assert_eq!(
        names,
        [json!(["news", 1]), json!(["all", 2])],
        "missed, in order"
    );
    let welcome = event(&mut ws).await;
    assert_eq!(welcome[..2], [json!("welcome"), json!(true)]);
    let socket = io.of("/").socket(sid).unwrap();
    assert!(socket.recovered());
    assert!(socket.rooms().contains(&"news".into()));
    assert_eq!(socket.data::<Json>(), Some(json!({"name": "ann"})));
    ws.silent_for(Duration::from_millis(200)).await;

    // Lost again: recovered again from the latest offset, nothing missed.
    let latest = welcome[2].as_str().unwrap().to_owned();
    drop(ws);
    eventually(|| io.of("/").socket_count() == 0).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let auth = json!({"pid": pid, "offset": latest}).to_string();
    assert_eq!(connect(&mut ws, &auth).await["sid"].as_str(), Some(sid));
    assert_eq!(event(&mut ws).await[..2], [json!("welcome"), json!(true)]);

    // An unknown session or offset starts afresh.
    for auth in [
        json!({"pid": "unknown", "offset": latest}),
        json!({"pid": pid, "offset": "unknown"}),
    ] {
        let (mut other, _) = Ws::open(addr, "/socket.io/").await;
        let reply = connect(&mut other, &auth.to_string()).await;
        assert_ne!(reply["sid"].as_str(), Some(sid), "{auth}");
        assert_eq!(event(&mut other).await[1], json!(false));
    }
}

#[tokio::test]
async fn leaving_on_purpose_is_not_recoverable() {
    let (io, addr) = start_io(config()).await;
    start(&io);
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let first = connect(&mut ws, "").await;
    let offset = event(&mut ws).await[2].as_str().unwrap().to_owned();
    ws.send("41").await; // the client leaves the namespace
    eventually(|| io.of("/").socket_count() == 0).await;
    let auth = json!({"pid": first["pid"], "offset": offset}).to_string();
    let second = connect(&mut ws, &auth).await;
    assert_ne!(second["sid"], first["sid"]);
    assert_ne!(second["pid"], first["pid"]);
}

#[tokio::test]
async fn direct_emits_get_offsets_and_volatile_ones_and_acks_do_not() {
    let (io, addr) = start_io(config()).await;
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("direct", &1);
        let _ = socket.volatile().emit("volatile", &2);
        drop(socket.emit_with_ack("asks", &3));
    });
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    connect(&mut ws, "").await;
    let direct = event(&mut ws).await;
    assert_eq!(direct.len(), 3, "offset appended: {direct:?}");
    // The volatile packet may be dropped (the client is not ready yet); if
    // it arrives, it has no offset.
    let mut asks = ws.text().await;
    if asks.starts_with("42[\"volatile\"") {
        assert_eq!(asks, "42[\"volatile\",2]");
        asks = ws.text().await;
    }
    assert!(asks.starts_with("420[\"asks\",3]"), "{asks}");
}

#[tokio::test]
async fn middlewares_are_skipped_on_recovery_unless_configured() {
    for skip in [true, false] {
        let (io, addr) = start_io(config_with(RecoveryConfig {
            skip_middlewares: skip,
            ..RecoveryConfig::default()
        }))
        .await;
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        io.use_middleware(move |_socket: Socket| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<(), ConnectError>(())
            }
        });
        start(&io);
        let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
        let first = connect(&mut ws, "").await;
        let offset = event(&mut ws).await[2].as_str().unwrap().to_owned();
        drop(ws);
        eventually(|| io.of("/").socket_count() == 0).await;
        let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
        let auth = json!({"pid": first["pid"], "offset": offset}).to_string();
        assert_eq!(connect(&mut ws, &auth).await["sid"], first["sid"]);
        let expected = if skip { 1 } else { 2 };
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), expected);
    }
}

#[tokio::test]
async fn without_recovery_there_is_no_pid_and_no_offset() {
    let (io, addr) = start_io(ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    })
    .await;
    start(&io);
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let reply = connect(&mut ws, "").await;
    assert!(reply.get("pid").is_none(), "{reply}");
    assert_eq!(event(&mut ws).await, [json!("welcome"), json!(false)]);
}

#[tokio::test]
async fn a_socket_no_offset_reached_is_not_kept() {
    // Its client has no offset to present, so the official client cannot
    // ask for it back: keeping it would only hold memory (and a draining
    // node waiting for it to be taken).
    let (io, addr) = start_io(config()).await;
    io.on_connection(|socket: Socket| async move {
        if socket.auth().get("news").is_some() {
            socket.join("news").await.unwrap();
        }
    });
    let (mut reader, _) = Ws::open(addr, "/socket.io/").await;
    let read = connect(&mut reader, r#"{"news":true}"#).await;
    let (mut silent, _) = Ws::open(addr, "/socket.io/").await;
    let first = connect(&mut silent, "").await;
    io.to("news").emit("news", &1).unwrap();
    let offset = event(&mut reader).await[2].as_str().unwrap().to_owned();
    drop(silent);
    eventually(|| io.of("/").socket_count() == 1).await;
    // Even with a valid offset, the silent socket's session is gone.
    let (mut again, _) = Ws::open(addr, "/socket.io/").await;
    let auth = json!({"pid": first["pid"], "offset": offset}).to_string();
    let second = connect(&mut again, &auth).await;
    assert_ne!(second["sid"], first["sid"]);
    // The reader's is kept.
    drop(reader);
    eventually(|| io.of("/").socket_count() == 1).await;
    let (mut back, _) = Ws::open(addr, "/socket.io/").await;
    let auth = json!({"pid": read["pid"], "offset": offset}).to_string();
    assert_eq!(connect(&mut back, &auth).await["sid"], read["sid"]);
}

#[tokio::test]
async fn what_a_namespace_holds_goes_once_its_clients_are_gone() {
    let keep = Duration::from_millis(400);
    let config = ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
    .connection_state_recovery(RecoveryConfig {
        max_disconnection_duration: keep,
        ..RecoveryConfig::default()
    });
    let (io, addr) = start_io(config).await;
    start(&io);
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    connect(&mut ws, "").await;
    event(&mut ws).await;
    let ns = io.of("/");
    let socket = ns.sockets().pop().unwrap();
    // An acknowledgement the client never sends, and a logged broadcast.
    let unanswered = tokio::spawn(socket.emit_with_ack("question", &1));
    let question = ws.text().await;
    assert!(question.starts_with("420["), "{question}");
    io.to("news").emit("news", &1).unwrap();
    event(&mut ws).await;
    eventually(|| ns.stats().pending_acks == 1).await;
    let held = ns.stats();
    assert_eq!((held.sockets, held.rooms), (1, 2), "{held:?}");
    assert_eq!(
        held.recovery_entries, 2,
        "welcome and news logged: {held:?}"
    );

    // The transport drops: the session is kept for recovery, the rest goes.
    drop(ws);
    drop(socket);
    eventually(|| ns.stats().sockets == 0).await;
    let held = ns.stats();
    assert_eq!((held.rooms, held.pending_acks), (0, 0), "{held:?}");
    assert_eq!(held.recovery_entries, 3, "packets and session: {held:?}");
    assert!(unanswered.await.unwrap().is_err());

    // Past the recovery window, nothing is left, without any new traffic.
    tokio::time::sleep(keep + Duration::from_millis(100)).await;
    assert_eq!(ns.stats(), switchyard_core::NamespaceStats::default());
}

/// The client leaves again while its recovery waits on a middleware: the
/// session taken for it is kept again, and its next attempt recovers it,
/// with what was missed since the same offset.
#[tokio::test]
async fn a_client_gone_while_being_recovered_recovers_next_time() {
    let (io, addr) = start_io(config_with(RecoveryConfig {
        skip_middlewares: false,
        ..RecoveryConfig::default()
    }))
    .await;
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = finished.clone();
    io.use_middleware(move |socket: Socket| {
        let counted = counted.clone();
        async move {
            if socket.recovered() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), ConnectError>(())
        }
    });
    start(&io);
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let first = connect(&mut ws, "").await;
    let offset = event(&mut ws).await[2].as_str().unwrap().to_owned();
    drop(ws);
    eventually(|| io.of("/").socket_count() == 0).await;
    io.to("news").emit("news", &1).unwrap();
    let auth = json!({"pid": first["pid"], "offset": offset}).to_string();

    // CONNECT, then gone before the middleware let it through.
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(&format!("40{auth}")).await;
    drop(ws);
    let seen = std::sync::atomic::Ordering::SeqCst;
    eventually(|| finished.load(seen) == 2 && io.of("/").socket_count() == 0).await;

    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let back = connect(&mut ws, &auth).await;
    assert_eq!(back["sid"], first["sid"], "the same socket");
    assert_eq!(event(&mut ws).await[..2], [json!("news"), json!(1)]);
    assert_eq!(event(&mut ws).await[..2], [json!("welcome"), json!(true)]);
}
