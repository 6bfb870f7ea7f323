//! The Socket.IO side of one Engine.IO session: decoding its messages into
//! packets (reassembling binary ones), connecting it to namespaces, and
//! routing each packet to the right socket.

use crate::engine::{CloseReason, EngineHandler, Message, Session};
use crate::handler;
use crate::limits::{Refused, TokenBucket};
use crate::namespace::Namespace;
use crate::object;
use crate::protocol::{DecodeLimits, Decoded, Packet, PacketKind, ParseError, PendingBinary};
use crate::server::{NoNamespace, ServerState};
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::{Map, Value};
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::sync::Arc;

/// An Engine.IO session serving Socket.IO.
pub(crate) type ClientSession = Session<ServerState>;

/// Per-session Socket.IO state.
#[derive(Default)]
pub(crate) struct ClientState {
    inner: Mutex<ClientInner>,
}

#[derive(Default)]
struct ClientInner {
    /// Connected namespaces (usually one).
    sockets: Vec<(SmolStr, Socket)>,
    /// Namespaces whose middlewares are still running.
    connecting: Vec<SmolStr>,
    /// A binary packet waiting for attachments.
    pending: Option<Box<PendingBinary>>,
    /// Whether any namespace was ever joined (ends the connect timeout).
    joined_once: bool,
    closed: bool,
    /// The namespace CONNECT rate, once the client sent one.
    connects: Option<TokenBucket>,
}

impl ClientState {
    fn socket(&self, ns: &str) -> Option<Socket> {
        self.inner
            .lock()
            .sockets
            .iter()
            .find(|(n, _)| n == ns)
            .map(|(_, s)| s.clone())
    }

    pub(crate) fn joined_once(&self) -> bool {
        self.inner.lock().joined_once
    }
}

impl EngineHandler for ServerState {
    type Data = ClientState;

    fn on_open(&self, session: &Arc<ClientSession>) {
        self.connect_timeouts.schedule(Arc::downgrade(session));
    }

    fn on_message(&self, session: &Arc<ClientSession>, message: Message) {
        match decode(
            self.config.parser,
            self.config.limits.decode,
            session,
            message,
        ) {
            Ok(Some(packet)) => self.dispatch(session, packet),
            Ok(None) => {}
            Err(e) => {
                let reason = match e {
                    ParseError::TooManyElements(_) => Refused::PacketElements,
                    _ => Refused::Malformed,
                };
                crate::refused!(reason, sid = %session.sid(), error = %e, "closing connection: malformed packet");
                session.close(CloseReason::ParseError);
            }
        }
    }

    fn on_close(&self, session: &Arc<ClientSession>, reason: CloseReason) {
        let sockets = {
            let mut inner = session.data.inner.lock();
            inner.closed = true;
            inner.pending = None;
            std::mem::take(&mut inner.sockets)
        };
        for (_, socket) in sockets {
            socket.close(reason.into());
        }
    }
}

fn decode(
    parser: crate::protocol::Parser,
    limits: DecodeLimits,
    session: &ClientSession,
    message: Message,
) -> Result<Option<Packet>, ParseError> {
    let mut inner = session.data.inner.lock();
    match message {
        Message::Text(text) => {
            if let Some(pending) = &inner.pending {
                return Err(ParseError::UnexpectedText(pending.missing()));
            }
            match parser.decode_text(&text, limits)? {
                Decoded::Packet(packet) => Ok(Some(packet)),
                Decoded::NeedsAttachments(pending) => {
                    inner.pending = Some(Box::new(pending));
                    Ok(None)
                }
            }
        }
        Message::Binary(data) => match inner.pending.as_mut() {
            Some(pending) => match pending.add(data) {
                None => Ok(None),
                Some(result) => {
                    inner.pending = None;
                    result.map(Some)
                }
            },
            None => parser.decode_binary(data, limits).map(Some),
        },
    }
}

impl ServerState {
    fn dispatch(&self, session: &Arc<ClientSession>, packet: Packet) {
        match packet.kind {
            PacketKind::Connect(auth) => self.connect(session, packet.ns, auth),
            PacketKind::ConnectError(_) => invalid_state(session, "CONNECT_ERROR sent by a client"),
            _ => match session.data.socket(&packet.ns) {
                Some(socket) => socket.on_packet(packet),
                None => invalid_state(session, "packet for a namespace the client has not joined"),
            },
        }
    }

    fn connect(&self, session: &Arc<ClientSession>, name: SmolStr, auth: Option<Value>) {
        let limits = &self.config.limits;
        let refusal = {
            let mut inner = session.data.inner.lock();
            if inner.sockets.iter().any(|(n, _)| *n == name) || inner.connecting.contains(&name) {
                drop(inner);
                return invalid_state(session, "second CONNECT for a namespace");
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
            return send_connect_error(session, &name, object! { "message" => message });
        }
        let mut auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
        let handshake_bytes = session.request().held_bytes() + auth.held_bytes();
        if handshake_bytes > limits.max_handshake_bytes {
            crate::refused!(Refused::HandshakeBytes, sid = %session.sid(), ns = %name, bytes = handshake_bytes, max = limits.max_handshake_bytes, "handshake too large: CONNECT refused");
            return send_connect_error(
                session,
                &name,
                object! { "message" => "Handshake too large" },
            );
        }
        auth.own_binaries();
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
        let recovery = ns.recovery().and_then(|config| {
            let pid = auth.get("pid")?.as_str()?;
            let offset = auth.get("offset")?.as_str()?;
            Some((config, Sid::from(pid), SmolStr::new(offset)))
        });
        if recovery.is_none() && middlewares.is_empty() {
            let socket = Socket::new(ns.clone(), session.clone(), auth);
            return finish_connect(session, &ns, socket, Vec::new());
        }
        session.data.inner.lock().connecting.push(name.clone());
        let session = session.clone();
        handler::run(Box::pin(async move {
            let (socket, missed, skip_middlewares) = match recovery {
                Some((config, pid, offset)) => {
                    // Half the client's budget at most: live packets still fit behind.
                    let mut config = config;
                    let budget = session.engine.config.max_client_buffer_bytes / 2;
                    config.max_replay_bytes = config.max_replay_bytes.min(budget);
                    match ns.adapter().restore_session(pid, offset, config).await {
                        Some(restored) => {
                            tracing::debug!(sid = %restored.session.sid, ns = %name, missed = restored.missed.len(), "session recovered");
                            let socket = Socket::restored(
                                ns.clone(),
                                session.clone(),
                                auth,
                                restored.session,
                            );
                            (socket, restored.missed, config.skip_middlewares)
                        }
                        None => (
                            Socket::new(ns.clone(), session.clone(), auth),
                            Vec::new(),
                            false,
                        ),
                    }
                }
                None => (
                    Socket::new(ns.clone(), session.clone(), auth),
                    Vec::new(),
                    false,
                ),
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
            session.data.inner.lock().connecting.retain(|n| *n != name);
            match refusal {
                None => finish_connect(&session, &ns, socket, missed),
                Some(e) => {
                    socket.abandon();
                    tracing::debug!(sid = %session.sid(), ns = %name, message = %e.message, "middleware refused the connection");
                    let mut error = Map::new();
                    error.insert("message".into(), Value::String(e.message));
                    if let Some(data) = e.data {
                        error.insert("data".into(), data);
                    }
                    send_connect_error(&session, &name, Value::Object(error));
                }
            }
        }));
    }
}

/// Connects a socket: the CONNECT reply (with `pid` when recovery is on),
/// the rooms and missed packets of a recovered session, then the handlers.
fn finish_connect(
    session: &Arc<ClientSession>,
    ns: &Namespace,
    socket: Socket,
    missed: Vec<Packet>,
) {
    {
        let mut inner = session.data.inner.lock();
        if inner.closed {
            drop(inner);
            return socket.abandon();
        }
        inner.sockets.push((ns.name().clone(), socket.clone()));
        inner.joined_once = true;
    }
    ns.insert_socket(socket.clone());
    socket.set_connected();
    let reply = match socket.pid() {
        Some(pid) => object! { "sid" => socket.id().as_str(), "pid" => pid.as_str() },
        None => object! { "sid" => socket.id().as_str() },
    };
    let reply = Packet {
        ns: ns.name().clone(),
        kind: PacketKind::Connect(Some(reply)),
    };
    if let Some(encoded) = ns.encode(&reply) {
        socket.push(&encoded, false);
    }
    for mut packet in missed {
        packet.ns = ns.name().clone();
        if let Some(encoded) = ns.encode(&packet) {
            socket.push(&encoded, false);
        }
    }
    tracing::debug!(sid = %socket.id(), ns = %ns.name(), "socket connected");
    for h in ns.connection_handlers() {
        handler::run(h.call(socket.clone()));
    }
}

fn send_connect_error(session: &Arc<ClientSession>, ns: &SmolStr, data: Value) {
    let packet = Packet {
        ns: ns.clone(),
        kind: PacketKind::ConnectError(data),
    };
    match session.engine.handler.config.parser.encode(&packet) {
        Ok(encoded) => {
            session.push(encoded.frames(), false);
        }
        Err(e) => tracing::error!(error = %e, "cannot encode CONNECT_ERROR"),
    }
}

/// A protocol violation: the connection closes (sockets hear "forced server close").
fn invalid_state(session: &Arc<ClientSession>, why: &str) {
    tracing::debug!(sid = %session.sid(), "closing connection: {why}");
    session.close(CloseReason::ForcedClose);
}

/// `socket.disconnect(true)`: every namespace disconnects, then the connection closes.
pub(crate) fn disconnect_all(session: &Arc<ClientSession>) {
    let sockets: Vec<Socket> = session
        .data
        .inner
        .lock()
        .sockets
        .iter()
        .map(|(_, s)| s.clone())
        .collect();
    for socket in sockets {
        socket.disconnect(false);
    }
    session.close(CloseReason::ForcedClose);
}

/// Forgets a socket that left its namespace.
pub(crate) fn forget_socket(session: &Arc<ClientSession>, ns: &SmolStr) {
    session.data.inner.lock().sockets.retain(|(n, _)| n != ns);
}
