//! Presence on one node: users named by a middleware or a handler, counted
//! per session, with one event per user when it comes online and one when
//! its last session closes.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::{ConnectError, PresenceEvent, ServerConfig, Socket, SocketIo, Value};

fn config() -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
}

/// A server whose middleware names users from `auth.user`, recording events.
async fn server() -> (
    SocketIo,
    std::net::SocketAddr,
    Arc<Mutex<Vec<PresenceEvent>>>,
) {
    let (io, addr) = start_io(config()).await;
    io.use_middleware(|socket: Socket| async move {
        if let Some(user) = socket.auth().get("user").and_then(Value::as_str) {
            socket.set_user(user);
        }
        Ok::<(), ConnectError>(())
    });
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "rename",
            |socket: Socket, event: switchyard_core::Event| async move {
                socket.set_user(event.arg::<String>(0).unwrap_or_default());
                let _ = event.ack(&true);
            },
        );
        socket.on(
            "join",
            |socket: Socket, event: switchyard_core::Event| async move {
                socket
                    .join(event.arg::<String>(0).unwrap_or_default())
                    .await
                    .unwrap();
                let _ = event.ack(&true);
            },
        );
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorded = events.clone();
    io.of("/").on_presence(move |event: PresenceEvent| {
        let recorded = recorded.clone();
        async move { recorded.lock().push(event) }
    });
    (io, addr, events)
}

fn event(user: &str, online: bool) -> PresenceEvent {
    PresenceEvent {
        user: SmolStr::new(user),
        online,
    }
}

#[tokio::test]
async fn one_event_per_user_whatever_its_sessions() {
    let (io, addr, events) = server().await;
    let ns = io.of("/");
    let (ann1, _) = sio_connect(addr, r#"{"user":"ann"}"#).await;
    let (ann2, _) = sio_connect(addr, r#"{"user":"ann"}"#).await;
    let (bob, _) = sio_connect(addr, r#"{"user":"bob"}"#).await;
    let (_anonymous, _) = sio_connect(addr, "").await;
    eventually(|| events.lock().len() == 2).await;
    assert_eq!(*events.lock(), [event("ann", true), event("bob", true)]);
    assert_eq!(ns.sessions_of("ann"), 2);
    assert!(ns.is_online("bob") && !ns.is_online("carl"));
    let mut users = ns.online_users();
    users.sort();
    assert_eq!(users, [(SmolStr::new("ann"), 2), (SmolStr::new("bob"), 1)]);

    drop(ann1);
    eventually(|| ns.sessions_of("ann") == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(events.lock().len(), 2, "ann still has a session: no event");
    drop(ann2);
    drop(bob);
    eventually(|| events.lock().len() == 4).await;
    let last: Vec<PresenceEvent> = events.lock()[2..].to_vec();
    assert!(last.contains(&event("ann", false)) && last.contains(&event("bob", false)));
    assert!(ns.online_users().is_empty());
}

#[tokio::test]
async fn a_handler_may_name_or_rename_the_user() {
    let (io, addr, events) = server().await;
    let ns = io.of("/");
    let (mut ws, _) = sio_connect(addr, "").await;
    ws.send(r#"421["rename","carl"]"#).await;
    assert_eq!(ws.text().await, "431[true]");
    eventually(|| ns.is_online("carl")).await;
    ws.send(r#"422["rename","dora"]"#).await;
    assert_eq!(ws.text().await, "432[true]");
    eventually(|| events.lock().len() == 3).await;
    assert_eq!(
        *events.lock(),
        [
            event("carl", true),
            event("carl", false),
            event("dora", true)
        ]
    );
}

#[tokio::test]
async fn users_in_a_room_and_refused_sockets() {
    let (io, addr, events) = server().await;
    io.of("/").use_middleware(|socket: Socket| async move {
        if socket.auth().get("refuse").is_some() {
            return Err(ConnectError::new("no"));
        }
        Ok(())
    });
    let (mut ann, _) = sio_connect(addr, r#"{"user":"ann"}"#).await;
    let (_bob, _) = sio_connect(addr, r#"{"user":"bob"}"#).await;
    ann.send(r#"421["join","team"]"#).await;
    assert_eq!(ann.text().await, "431[true]");
    let in_team = io.of("/").online_users_in("team").await.unwrap();
    assert_eq!(in_team, [SmolStr::new("ann")]);

    // Named by the first middleware, refused by the second: never counted.
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(r#"40{"user":"eve","refuse":true}"#).await;
    assert!(ws.text().await.starts_with("44"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!io.of("/").is_online("eve"));
    assert_eq!(events.lock().len(), 2);
}
