//! Server operations as client events — for tests and demos only, never
//! for production: any client may call them (the node serves them on `/ops`
//! with `--ops`; the `features` example on `/`).
//!
//! | event | does |
//! |---|---|
//! | `node(ack)` | `ack({label, servers})` |
//! | `join(rooms[], ack)`, `leave(room, ack)` | joins / leaves, `ack(rooms)` |
//! | `set-data(data, ack)` | `socket.set_data(data)` |
//! | `emit(target, event, payload, ack)` | emits to the target |
//! | `fetch(target, ack)` | `ack([{id, rooms, data, auth}])`, all nodes |
//! | `fetch-partial(target, ack)` | `ack({ids, missing})`: `missing` nodes did not answer |
//! | `sockets-join(target, room, ack)`, `sockets-leave(…)` | on all nodes |
//! | `disconnect-sockets(target, close, ack)` | on all nodes |
//! | `poll-everyone(timeoutMs, ack)` | emits `poll` with an ack to every socket, `ack({responses})` or `ack({error, responses})` |
//! | `ask-me(timeoutMs, ack)` | emits `question` with an ack to the caller, `ack({answer})` or `ack({error})` |
//! | `server-side-emit(args[], timeoutMs, ack)` | asks the other nodes, `ack({responses, missing})` |
//! | `disconnect-me(close)` | the server disconnects the caller |
//! | `disconnect-reasons(ack)` | the last disconnect reasons seen by this node |
//! | `echo(...args, ack)` | `ack(...args)` |
//!
//! Server-side events it answers: `ops-ping(...args)` acks `{node, args}`;
//! `ops-relay(...args)` emits `relayed(...args)` to this node's sockets of
//! the namespace (so tests see what emitters send to the servers).
//!
//! A target is `{to?: [rooms], except?: [rooms], volatile?, local?, broadcast?}`;
//! `broadcast` starts from "everyone but the caller".

use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::{
    BroadcastOperator, DisconnectReason, Event, Namespace, ServerAck, Socket, Value, object,
};

/// Which sockets an operation targets.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Target {
    to: Vec<String>,
    except: Vec<String>,
    volatile: bool,
    local: bool,
    broadcast: bool,
    /// `compress(false)`: never compressed.
    plain: bool,
    /// To the calling socket itself (`socket.emit`), not a broadcast.
    me: bool,
}

fn operator(socket: &Socket, target: Target) -> BroadcastOperator {
    let mut op = if target.broadcast {
        socket.broadcast()
    } else {
        socket.ns().broadcast()
    };
    op = op.to(target.to).except(target.except);
    if target.volatile {
        op = op.volatile();
    }
    if target.local {
        op = op.local();
    }
    if target.plain {
        op = op.compress(false);
    }
    op
}

/// The last disconnect reasons, newest last.
type Reasons = Arc<parking_lot::Mutex<VecDeque<Value>>>;
const KEPT_REASONS: usize = 1000;

fn millis(event: &Event, index: usize) -> Duration {
    Duration::from_millis(event.arg::<u64>(index).unwrap_or(1000))
}

/// Installs the operations on a namespace; `label` names this node.
pub fn install(ns: &Namespace, label: String) {
    let reasons: Reasons = Arc::default();
    let server_label = label.clone();
    ns.on_server_event(
        "ops-ping",
        move |args: Vec<Value>, ack: Option<ServerAck>| {
            let label = server_label.clone();
            async move {
                if let Some(ack) = ack {
                    ack.send(object! { "node" => label, "args" => Value::Array(args) });
                }
            }
        },
    );
    let weak = ns.downgrade();
    ns.on_server_event(
        "ops-relay",
        move |args: Vec<Value>, _: Option<ServerAck>| {
            let weak = weak.clone();
            async move {
                if let Some(ns) = weak.upgrade() {
                    let _ = ns.local().emit_args("relayed", args);
                }
            }
        },
    );
    ns.on_connection(move |socket: Socket| {
        let reasons = reasons.clone();
        let label = label.clone();
        async move {
            install_socket(&socket, reasons, label);
        }
    });
}

/// Installs the operations on a socket that connected.
fn install_socket(socket: &Socket, reasons: Reasons, label: String) {
    install_own(socket, reasons, label);
    install_targeted(socket);
    install_acks(socket);
}

/// The operations on the caller itself and on this node: its disconnect
/// reasons, its label, echoes, its rooms and data, disconnecting it.
fn install_own(socket: &Socket, reasons: Reasons, label: String) {
    let log = reasons.clone();
    socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
        let log = log.clone();
        async move {
            let mut log = log.lock();
            if log.len() == KEPT_REASONS {
                log.pop_front();
            }
            log.push_back(object! { "id" => socket.id().as_str(), "reason" => reason.as_str() });
        }
    });
    socket.on("disconnect-reasons", move |_: Socket, event: Event| {
        let reasons = reasons.clone();
        async move {
            let list: Vec<Value> = reasons.lock().iter().cloned().collect();
            let _ = event.ack(&Value::Array(list));
        }
    });
    socket.on("node", move |socket: Socket, event: Event| {
        let label = label.clone();
        async move {
            let servers = socket.ns().server_count().await;
            let _ = event.ack(&object! { "label" => label, "servers" => servers });
        }
    });
    socket.on("echo", |_: Socket, mut event: Event| async move {
        let args = std::mem::take(&mut event.args);
        let _ = event.ack_args(args);
    });
    socket.on("join", |socket: Socket, event: Event| async move {
        // A refused join is counted and logged; the rooms tell the caller.
        let _ = socket
            .join(event.arg::<Vec<String>>(0).unwrap_or_default())
            .await;
        let _ = event.ack(&socket.rooms());
    });
    socket.on("leave", |socket: Socket, event: Event| async move {
        socket.leave(event.arg::<String>(0).unwrap_or_default());
        let _ = event.ack(&socket.rooms());
    });
    socket.on("set-data", |socket: Socket, mut event: Event| async move {
        let data = event.take_arg::<Value>(0).unwrap_or(Value::Null);
        let _ = event.ack(&socket.set_data(&data).is_ok());
    });
    socket.on("disconnect-me", |socket: Socket, event: Event| async move {
        socket.disconnect(event.arg::<bool>(0).unwrap_or(false));
    });
}

/// The operations on the sockets a target picks, on every node.
fn install_targeted(socket: &Socket) {
    socket.on("emit", |socket: Socket, mut event: Event| async move {
        let target = event.take_arg::<Target>(0).unwrap_or_default();
        let name = event.arg::<String>(1).unwrap_or_default();
        let payload = event.args.get(2).cloned().unwrap_or(Value::Null);
        let sent = if target.me {
            socket.compress(!target.plain).emit(&name, &payload).is_ok()
        } else {
            operator(&socket, target).emit(&name, &payload).is_ok()
        };
        let _ = event.ack(&sent);
    });
    socket.on("fetch", fetch);
    socket.on(
        "fetch-partial",
        |socket: Socket, mut event: Event| async move {
            let target = event.take_arg::<Target>(0).unwrap_or_default();
            let reply = match operator(&socket, target).fetch_sockets_partial().await {
                Ok((sockets, missing)) => {
                    let ids = sockets.iter().map(|s| Value::from(s.id.as_str())).collect();
                    object! { "ids" => Value::Array(ids), "missing" => missing }
                }
                Err(e) => object! { "error" => e.to_string() },
            };
            let _ = event.ack(&reply);
        },
    );
    socket.on(
        "sockets-join",
        |socket: Socket, mut event: Event| async move {
            let target = event.take_arg::<Target>(0).unwrap_or_default();
            // Acknowledged once every node confirmed.
            let joined = operator(&socket, target)
                .sockets_join(event.arg::<String>(1).unwrap_or_default())
                .await;
            let _ = event.ack(&joined.is_ok());
        },
    );
    socket.on(
        "sockets-leave",
        |socket: Socket, mut event: Event| async move {
            let target = event.take_arg::<Target>(0).unwrap_or_default();
            operator(&socket, target).sockets_leave(event.arg::<String>(1).unwrap_or_default());
            let _ = event.ack(&true);
        },
    );
    socket.on(
        "disconnect-sockets",
        |socket: Socket, mut event: Event| async move {
            let target = event.take_arg::<Target>(0).unwrap_or_default();
            let close = event.arg::<bool>(1).unwrap_or(false);
            let _ = event.ack(&true);
            operator(&socket, target).disconnect_sockets(close);
        },
    );
}

/// `fetch(target, ack)`: the sockets of every node the target picks.
async fn fetch(socket: Socket, mut event: Event) {
    let target = event.take_arg::<Target>(0).unwrap_or_default();
    let found = match operator(&socket, target).fetch_sockets().await {
        Ok(sockets) => sockets
            .into_iter()
            .map(|s| {
                let mut rooms: Vec<Value> = s.rooms.iter().map(|r| Value::from(r.as_str())).collect();
                rooms.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                object! { "id" => s.id.as_str(), "rooms" => Value::Array(rooms), "data" => s.data, "auth" => s.handshake.auth }
            })
            .collect(),
        Err(e) => vec![object! { "error" => e.to_string() }],
    };
    let _ = event.ack(&Value::Array(found));
}

/// The operations that wait for answers: from the caller, from every
/// socket, from the other nodes.
fn install_acks(socket: &Socket) {
    socket.on("ask-me", |socket: Socket, event: Event| async move {
        let reply = match socket
            .timeout(millis(&event, 0))
            .emit_with_ack("question", "ready?")
            .await
        {
            Ok(args) => object! { "answer" => Value::Array(args) },
            Err(e) => object! { "error" => e.to_string() },
        };
        let _ = event.ack(&reply);
    });
    socket.on("poll-everyone", |socket: Socket, event: Event| async move {
        let reply = match socket
            .ns()
            .timeout(millis(&event, 0))
            .emit_with_ack_args("poll", vec![])
        {
            Err(e) => object! { "error" => e.to_string() },
            Ok(collect) => match collect.await {
                Ok(responses) => object! { "responses" => Value::Array(responses) },
                Err(e) => {
                    object! { "error" => e.to_string(), "responses" => Value::Array(e.responses) }
                }
            },
        };
        let _ = event.ack(&reply);
    });
    socket.on("server-side-emit", |socket: Socket, mut event: Event| async move {
        let args = event.take_arg::<Vec<Value>>(0).unwrap_or_default();
        let reply = match socket.ns().server_side_emit_with_ack("ops-ping", args, millis(&event, 1)).await {
            Ok(partial) => object! { "responses" => Value::Array(partial.items), "missing" => partial.missing },
            Err(e) => object! { "error" => e.to_string() },
        };
        let _ = event.ack(&reply);
    });
}
