//! The Socket.IO side of one Engine.IO session: decoding its messages into
//! packets (reassembling binary ones), connecting it to namespaces
//! (`connect`, and `recover` for a session coming back), and routing each
//! packet to the right socket.

mod connect;
mod recover;

use crate::engine::{
    CloseReason, EngineHandler, Frame, Message, Protocol, Push, RequestInfo, Session, TransportKind,
};
use crate::limits::{Refused, TokenBucket};
use crate::protocol::{DecodeLimits, Decoded, Packet, PacketKind, ParseError, PendingBinary};
use crate::server::state::ServerState;
use crate::sid::Sid;
use crate::socket::Socket;
use crate::socket::connection::Connection;
use crate::value::{Map, Value};
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Instant;

/// An Engine.IO session serving Socket.IO.
pub(crate) type ClientSession = Session<ServerState>;

/// Per-session Socket.IO state.
#[derive(Default)]
pub(crate) struct ClientState {
    pub(super) inner: Mutex<ClientInner>,
}

#[derive(Default)]
pub(super) struct ClientInner {
    /// Connected namespaces (usually one).
    pub(super) sockets: Vec<(SmolStr, Socket)>,
    /// Namespaces whose middlewares are still running.
    pub(super) connecting: Vec<SmolStr>,
    /// A binary packet waiting for attachments.
    pub(super) pending: Option<Box<PendingBinary>>,
    /// Whether any namespace was ever joined (ends the connect timeout).
    pub(super) joined_once: bool,
    pub(super) closed: bool,
    /// The namespace CONNECT rate, once the client sent one.
    pub(super) connects: Option<TokenBucket>,
}

impl ClientInner {
    /// A namespace's middlewares are done (its list freed once empty).
    pub(super) fn done_connecting(&mut self, name: &str) {
        self.connecting.retain(|n| n != name);
        if self.connecting.is_empty() {
            self.connecting = Vec::new();
        }
    }
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

    /// Its sockets, one per namespace (a copy: the lock is not held).
    fn sockets(&self) -> Vec<Socket> {
        self.inner
            .lock()
            .sockets
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    pub(crate) fn joined_once(&self) -> bool {
        self.inner.lock().joined_once
    }
}

impl EngineHandler for ServerState {
    type Data = ClientState;

    fn on_open(&self, session: &Arc<ClientSession>) {
        self.connect_timeouts.schedule(Arc::downgrade(session));
        if session.protocol() == Protocol::V3 {
            // A Socket.IO v2 client is in the main namespace from the start.
            self.connect(session, SmolStr::new_static("/"), None);
        }
        if let Some(observer) = self.config.observer.get() {
            observer.session_opened(session.transport());
        }
    }

    fn on_upgrade(&self, session: &Arc<ClientSession>) {
        if let Some(observer) = self.config.observer.get() {
            for socket in &session.data.sockets() {
                observer.socket_upgraded(socket);
            }
        }
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
        if let Some(observer) = self.config.observer.get() {
            observer.session_closed(reason);
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
            PacketKind::Connect(_) if session.protocol() == Protocol::V3 => {
                // Socket.IO v2: the query after the namespace is the auth.
                let (name, query) = packet.ns.split_once('?').unwrap_or((&packet.ns, ""));
                let mut auth = Map::new();
                for (key, value) in crate::engine::parse_query(Some(query)) {
                    auth.entry(key).or_insert(Value::String(value));
                }
                self.connect(session, name.into(), Some(Value::Object(auth)));
            }
            PacketKind::Connect(auth) => self.connect(session, packet.ns, auth),
            PacketKind::ConnectError(_) => invalid_state(session, "CONNECT_ERROR sent by a client"),
            _ => match session.data.socket(&packet.ns) {
                Some(socket) => socket.on_packet(packet),
                None => invalid_state(session, "packet for a namespace the client has not joined"),
            },
        }
    }
}

pub(super) fn send_connect_error(session: &Arc<ClientSession>, ns: &SmolStr, data: Value) {
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
pub(super) fn invalid_state(session: &Arc<ClientSession>, why: &str) {
    tracing::debug!(sid = %session.sid(), "closing connection: {why}");
    session.close(CloseReason::ForcedClose);
}

/// The connection as its sockets see it.
impl Connection for ClientSession {
    fn sid(&self) -> &Sid {
        Session::sid(self)
    }

    fn protocol(&self) -> Protocol {
        Session::protocol(self)
    }

    fn request(&self) -> &Arc<RequestInfo> {
        Session::request(self)
    }

    fn transport(&self) -> TransportKind {
        Session::transport(self)
    }

    #[inline]
    fn push(&self, frames: &[Frame], volatile: bool, since: Option<Instant>) -> Push {
        self.push_since(frames, volatile, since)
    }

    fn buffer_budget(&self) -> usize {
        self.engine.config.max_client_buffer_bytes
    }

    fn close(&self, reason: CloseReason) {
        if let Some(session) = self.upgrade() {
            session.close(reason);
        }
    }

    fn disconnect_all(&self) {
        for socket in self.data.sockets() {
            socket.disconnect(false);
            // Called from a connection handler, before the CONNECT reply went
            // out: it goes now, then the DISCONNECT, then the close (as in Node).
            socket.release();
        }
        Connection::close(self, CloseReason::ForcedClose);
    }

    fn forget_socket(&self, ns: &SmolStr) {
        self.data.inner.lock().sockets.retain(|(n, _)| n != ns);
    }
}
