//! The bench contract on the default namespace `/`, which load tests and
//! cross-server comparisons rely on:
//!
//! - `echo(...args, ack)` answers `ack(...args)`, binary included;
//! - `join(room, ack)` joins and answers `true`;
//! - `leave(room, ack)` leaves and answers `true`;
//! - `publish({room, payload, except?})` emits `msg` with `payload` to
//!   `room` (to everyone in the namespace when `room` is null), minus the
//!   sockets of `except` (a room or a list of rooms), cluster-wide when an
//!   adapter is configured;
//! - presence (demo behaviour, unauthenticated: any client may claim any
//!   user id): a CONNECT auth payload `{user: "<id>"}` names the socket's
//!   user; `presence(ack)` answers `{users: {"<id>": <sessions>, …}}` for
//!   the whole cluster; every socket receives `presence` `{user, online}`
//!   once when a user's first session anywhere opens and once when its
//!   last one closes.
//!
//! Malformed requests are answered `false` (or ignored, for `publish`) and
//! logged at debug level.

use serde::Deserialize;
use switchyard_core::value::Map;
use switchyard_core::{ConnectError, Event, PresenceEvent, Socket, SocketIo, Value, object};

/// Installs the contract's handlers on `/`.
pub fn install(io: &SocketIo) {
    io.use_middleware(|socket: Socket| async move {
        if let Some(user) = socket.auth().get("user").and_then(Value::as_str) {
            socket.set_user(user);
        }
        Ok::<(), ConnectError>(())
    });
    let ns = io.of("/").downgrade();
    io.of("/").on_presence(move |event: PresenceEvent| {
        let ns = ns.clone();
        async move {
            if let Some(ns) = ns.upgrade()
                && let Err(e) = ns.local().emit("presence", &event)
            {
                tracing::debug!(error = %e, "presence event not sent");
            }
        }
    });
    io.on_connection(|socket: Socket| async move {
        socket.on("presence", |socket: Socket, event: Event| async move {
            let users: Map = socket
                .ns()
                .online_users()
                .into_iter()
                .map(|(user, sessions)| (user.to_string(), Value::from(sessions as u64)))
                .collect();
            let _ = event.ack(&object! { "users" => Value::Object(users) });
        });
        socket.on("echo", |_: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let _ = event.ack_args(args);
        });
        socket.on("join", |socket: Socket, event: Event| async move {
            // Acknowledged once the join takes effect cluster-wide: a
            // broadcast sent after the ack reaches this socket.
            let joined = match event.arg::<String>(0) {
                Ok(room) => socket.join(room).await.is_ok(),
                Err(_) => false,
            };
            let _ = event.ack(&joined);
        });
        socket.on("leave", |socket: Socket, event: Event| async move {
            let left = event
                .arg::<String>(0)
                .map(|room| socket.leave(room))
                .is_ok();
            let _ = event.ack(&left);
        });
        socket.on("publish", |socket: Socket, mut event: Event| async move {
            match event.take_arg::<Publish>(0) {
                Ok(p) => {
                    let except = p.except.map(Rooms::into_vec).unwrap_or_default();
                    // No room: to everyone in the namespace.
                    let to = match p.room {
                        Some(room) => socket.ns().to(room),
                        None => socket.ns().broadcast(),
                    };
                    if let Err(e) = to.except(except).emit("msg", &p.payload) {
                        tracing::debug!(error = %e, "publish failed");
                    }
                }
                Err(e) => tracing::debug!(sid = %socket.id(), error = %e, "malformed publish"),
            }
        });
    });
}

#[derive(Deserialize)]
struct Publish {
    room: Option<String>,
    payload: Value,
    #[serde(default)]
    except: Option<Rooms>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Rooms {
    One(String),
    Many(Vec<String>),
}

impl Rooms {
    fn into_vec(self) -> Vec<String> {
        match self {
            Rooms::One(room) => vec![room],
            Rooms::Many(rooms) => rooms,
        }
    }
}
