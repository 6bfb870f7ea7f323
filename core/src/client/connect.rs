//! A CONNECT to a namespace: the client's limits, the namespace lookup,
//! recovery or a new socket, the middlewares, then the CONNECT reply and the
//! connection handlers.

use super::recover::{Recovered, recover};
use super::{ClientSession, invalid_state, send_connect_error};
use crate::engine::Protocol;
use crate::handler::ConnectError;
use crate::limits::{Refused, TokenBucket};
use crate::namespace::Namespace;
use crate::object;
use crate::protocol::{Encoded, Packet, PacketKind};
use crate::recovery::{Unsent, offset_of};
use crate::server::state::{NoNamespace, ServerState};
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::{Map, Value};
use smol_str::SmolStr;
use std::collections::HashSet;
use std::sync::Arc;

impl ServerState {
    pub(super) fn connect(&self, session: &Arc<ClientSession>, name: SmolStr, auth: Option<Value>) {
        let Some(auth) = self.admit(session, &name, auth) else {
            return;
        };
        let ns = match self.namespace_for(&name, &auth) {
            Ok(ns) => ns,
            Err(NoNamespace::Unknown) => {
                crate::refused!(Refused::UnknownNamespace, sid = %session.sid(), ns = %name, "connection to an unknown namespace refused");
                return send_connect_error(
                    session,
                    &name,
                    object! { "message" => "Invalid namespace" },
                );
            }
            Err(NoNamespace::TooMany) => {
                return send_connect_error(
                    session,
                    &name,
                    object! { "message" => "Namespace limit reached" },
                );
            }
        };
        let middlewares = ns.middlewares();
        // Socket.IO v2 clients have no recovery.
        let v4 = session.protocol() == Protocol::V4;
        let recovery = ns.recovery().filter(|_| v4).and_then(|config| {
            let pid = auth.get("pid")?.as_str()?;
            let offset = auth.get("offset")?.as_str()?;
            Some((config, Sid::from(pid), SmolStr::new(offset)))
        });
        if recovery.is_none() && middlewares.is_empty() {
            let socket = Socket::new(ns.clone(), session.clone(), auth);
            return finish_connect(session, &ns, socket, None);
        }
        push_exact(&mut session.data.inner.lock().connecting, name.clone());
        let session = session.clone();
        crate::inline::run(Box::pin(async move {
            let recovered = match recovery {
                Some((mut config, pid, offset)) => {
                    // Half the client's budget at most: live packets still fit behind.
                    let budget = session.engine.config.max_client_buffer_bytes / 2;
                    config.max_replay_bytes = config.max_replay_bytes.min(budget);
                    let recovered = recover(&ns, &session, &auth, pid, offset, config).await;
                    crate::metrics::recovery(recovered.is_some());
                    recovered
                }
                None => None,
            };
            let (socket, replay, skip_middlewares) = match recovered {
                Some(Recovered {
                    socket,
                    replay,
                    skip_middlewares,
                }) => (socket, Some(replay), skip_middlewares),
                None => (Socket::new(ns.clone(), session.clone(), auth), None, false),
            };
            let mut refusal = None;
            if !skip_middlewares {
                for middleware in middlewares {
                    if let Err(e) = middleware.call(socket.clone()).await {
                        refusal = Some(e);
                        break;
                    }
                }
            }
            session.data.inner.lock().done_connecting(&name);
            match refusal {
                None => finish_connect(&session, &ns, socket, replay),
                Some(e) => refuse(&session, &name, socket, e),
            }
        }));
    }

    /// The client's limits on CONNECTs (rate, namespaces, handshake size);
    /// the auth payload when admitted.
    fn admit(
        &self,
        session: &Arc<ClientSession>,
        name: &SmolStr,
        auth: Option<Value>,
    ) -> Option<Value> {
        let limits = &self.config.limits;
        let refusal = {
            let mut inner = session.data.inner.lock();
            if inner.sockets.iter().any(|(n, _)| n == name) || inner.connecting.contains(name) {
                drop(inner);
                invalid_state(session, "second CONNECT for a namespace");
                return None;
            }
            let in_rate = limits.connect_rate.is_none_or(|rate| {
                inner
                    .connects
                    .get_or_insert_with(|| TokenBucket::new(rate))
                    .take(rate)
            });
            if !in_rate {
                Some((Refused::ConnectRate, "Too many namespace connections"))
            } else if inner.sockets.len() + inner.connecting.len()
                >= limits.max_namespaces_per_client
            {
                Some((Refused::Namespaces, "Too many namespaces"))
            } else {
                None
            }
        };
        if let Some((reason, message)) = refusal {
            crate::refused!(reason, sid = %session.sid(), ns = %name, "{message}: CONNECT refused");
            send_connect_error(session, name, object! { "message" => message });
            return None;
        }
        let mut auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
        let handshake_bytes = session.request().held_bytes() + auth.held_bytes();
        if handshake_bytes > limits.max_handshake_bytes {
            crate::refused!(Refused::HandshakeBytes, sid = %session.sid(), ns = %name, bytes = handshake_bytes, max = limits.max_handshake_bytes, "handshake too large: CONNECT refused");
            send_connect_error(
                session,
                name,
                object! { "message" => "Handshake too large" },
            );
            return None;
        }
        auth.own_binaries();
        Some(auth)
    }
}

/// A middleware refused: the socket is forgotten, the client hears why (a
/// Socket.IO v2 client the error's data, or else its message, alone, as
/// Node answers it).
fn refuse(session: &Arc<ClientSession>, name: &SmolStr, socket: Socket, e: ConnectError) {
    socket.abandon();
    tracing::debug!(sid = %session.sid(), ns = %name, message = %e.message, "middleware refused the connection");
    if session.protocol() == Protocol::V3 {
        // `err.data || err.message`, with JavaScript's falsy values.
        let falsy = |data: &Value| match data {
            Value::Null | Value::Bool(false) => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == 0.0,
            _ => false,
        };
        let data = e
            .data
            .filter(|data| !falsy(data))
            .unwrap_or(Value::String(e.message));
        return send_connect_error(session, name, data);
    }
    let mut error = Map::new();
    error.insert("message".into(), Value::String(e.message));
    if let Some(data) = e.data {
        error.insert("data".into(), data);
    }
    send_connect_error(session, name, Value::Object(error));
}

/// Connects a socket: the CONNECT reply (with `pid` when recovery is on),
/// the replay of a recovered session and what reached it while it was
/// being recovered, then the handlers. A recovered socket whose client
/// left meanwhile gives its session back, for the client's next attempt.
pub(super) fn finish_connect(
    session: &Arc<ClientSession>,
    ns: &Namespace,
    socket: Socket,
    replay: Option<Unsent>,
) {
    {
        let mut inner = session.data.inner.lock();
        if inner.closed {
            drop(inner);
            return match replay {
                Some(unsent) => socket.give_back(unsent),
                None => socket.abandon(),
            };
        }
        push_exact(&mut inner.sockets, (ns.name().clone(), socket.clone()));
        inner.joined_once = true;
    }
    ns.insert_socket(socket.clone());
    socket.set_connected();
    if let Some(observer) = ns.observer() {
        observer.socket_connected(&socket);
    }
    // A Socket.IO v2 client knows its id already: its reply is bare.
    let reply = match (session.protocol(), socket.pid()) {
        (Protocol::V3, _) => None,
        (Protocol::V4, Some(pid)) => {
            Some(object! { "sid" => socket.id().as_str(), "pid" => pid.as_str() })
        }
        (Protocol::V4, None) => Some(object! { "sid" => socket.id().as_str() }),
    };
    let reply = Packet {
        ns: ns.name().clone(),
        kind: PacketKind::Connect(reply),
    };
    let mut first: Vec<Encoded> = ns.encode(&reply).into_iter().collect();
    let mut replayed = HashSet::new();
    for mut packet in replay.map(|r| r.missed).unwrap_or_default() {
        packet.ns = ns.name().clone();
        replayed.extend(offset_of(&packet));
        first.extend(ns.encode(&packet));
    }
    // The handlers run (their synchronous part: registering event handlers)
    // before the client hears it is connected, as in Node: an event the
    // client sends at once finds them, even when this runs off the
    // connection's task (middlewares, recovery). What they emit meanwhile
    // is kept back and follows the reply and the replay.
    socket.hold();
    socket.prepare_release(first, replayed);
    for h in ns.connection_handlers() {
        crate::inline::run(h.call(socket.clone()));
    }
    socket.release();
    tracing::debug!(sid = %socket.id(), ns = %ns.name(), engine = %session.sid(), recovered = socket.recovered(), "socket connected");
}

/// Pushes without doubling the capacity: a client is in one namespace or a
/// few, for its whole life.
fn push_exact<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
}
