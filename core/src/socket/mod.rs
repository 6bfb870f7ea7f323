//! `Socket`: one client connected to one namespace — what it is and holds.
//!
//! Its behaviour is spread by concern: `emit` (emitting to its client),
//! `rooms` (joining, leaving, broadcasting from it), `delivery` (queueing
//! packets on its connection), `lifecycle` (connecting, incoming packets,
//! leaving) and `member` (the handle the room index holds). The socket
//! reaches its connection through [`Connection`](connection::Connection).

mod ack;
pub(crate) mod connection;
mod delivery;
pub(crate) mod emit;
mod handlers;
mod hold;
mod lifecycle;
mod member;
pub(crate) mod reason;
mod rooms;

pub(crate) use ack::AckSink;
pub use ack::{AckError, AckFuture};

use crate::engine::{RequestInfo, TransportKind};
use crate::handler::{DisconnectHandler, EventHandler};
use crate::handshake::Handshake;
use crate::limits::{Rate, TokenBucket};
use crate::namespace::Namespace;
use crate::recovery::SessionState;
use crate::sid::Sid;
use crate::value::{Value, ValueError, from_value, to_value};
use crate::vocab::SocketInfo;
use ack::PendingAcks;
use connection::Connection;
use handlers::Handlers;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use smol_str::SmolStr;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// A client connected to a namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

pub(crate) struct SocketInner {
    id: Sid,
    /// The private session id, when connection state recovery is on.
    pid: Option<Sid>,
    /// Whether this socket is a recovered session.
    recovered: bool,
    /// Whether an offset reached the client (a recoverable broadcast, or
    /// its recovery): only then can it ask for its session back, so only
    /// then is the session kept when it disconnects.
    offered: std::sync::atomic::AtomicBool,
    ns: Namespace,
    session: Arc<dyn Connection>,
    /// The CONNECT packet's auth payload; `None` for `{}` (most clients),
    /// which then costs no allocation per socket.
    auth: Option<Value>,
    /// PENDING (middlewares running), CONNECTED, or CLOSED.
    state: AtomicU8,
    handlers: RwLock<Handlers<dyn EventHandler, dyn DisconnectHandler>>,
    pub(crate) acks: Mutex<ack::PendingAckMap>,
    data: Mutex<Value>,
    /// The user this socket is a session of (presence).
    user: Mutex<Option<SmolStr>>,
    extensions: Mutex<http::Extensions>,
    /// The incoming event rate, when limited (boxed: off by default).
    event_rate: Option<Box<(Rate, Mutex<TokenBucket>)>>,
    /// Live deliveries kept back while a recovery replays.
    hold: hold::Hold,
}

const PENDING: u8 = 0;
const CONNECTED: u8 = 1;
const CLOSED: u8 = 2;

/// Pending broadcast acks are pruned once a socket holds this many.
const ACK_PRUNE_THRESHOLD: usize = 32;

impl Socket {
    pub(crate) fn new(ns: Namespace, session: Arc<dyn Connection>, auth: Value) -> Socket {
        if session.protocol() == crate::engine::Protocol::V3 {
            // A Socket.IO v2 client names its sockets after its session.
            let id = match ns.name().as_str() {
                "/" => session.sid().clone(),
                name => Sid::from(format!("{name}#{}", session.sid().as_str())),
            };
            return Self::build(ns, session, auth, id, None, Value::Null, false);
        }
        let pid = ns.recovery().map(|_| ns.adapter().new_pid());
        Self::build(ns, session, auth, Sid::random(), pid, Value::Null, false)
    }

    /// The socket of a recovered session: its id, private id and data.
    pub(crate) fn restored(
        ns: Namespace,
        session: Arc<dyn Connection>,
        auth: Value,
        state: SessionState,
    ) -> Socket {
        Self::build(
            ns,
            session,
            auth,
            state.sid,
            Some(state.pid),
            state.data,
            true,
        )
    }

    fn build(
        ns: Namespace,
        session: Arc<dyn Connection>,
        auth: Value,
        id: Sid,
        pid: Option<Sid>,
        data: Value,
        recovered: bool,
    ) -> Socket {
        let event_rate = ns
            .limits()
            .event_rate
            .map(|rate| Box::new((rate, Mutex::new(TokenBucket::new(rate)))));
        Socket(Arc::new(SocketInner {
            id,
            pid,
            recovered,
            offered: std::sync::atomic::AtomicBool::new(recovered),
            ns,
            session,
            auth: (!matches!(&auth, Value::Object(map) if map.is_empty())).then_some(auth),
            state: AtomicU8::new(PENDING),
            handlers: RwLock::new(Handlers::default()),
            acks: Mutex::default(),
            data: Mutex::new(data),
            user: Mutex::new(None),
            extensions: Mutex::new(http::Extensions::new()),
            event_rate,
            hold: hold::Hold::default(),
        }))
    }

    /// The socket id (public: other clients may know it; it is not the
    /// session id).
    pub fn id(&self) -> &Sid {
        &self.0.id
    }

    /// Acknowledgements this socket still awaits from its client.
    pub(crate) fn pending_acks(&self) -> usize {
        self.0.acks.lock().len()
    }

    /// The namespace.
    pub fn ns(&self) -> &Namespace {
        &self.0.ns
    }

    /// Whether this socket is a session recovered after a lost connection
    /// (connection state recovery): same id, rooms and data, and the
    /// packets it missed were sent again.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The private session id sent in the CONNECT reply (recovery on).
    pub(crate) fn pid(&self) -> Option<&Sid> {
        self.0.pid.as_ref()
    }

    /// Closes the underlying connection as if its transport had gone away:
    /// every socket on it keeps its session for recovery.
    pub(crate) fn close_connection(&self) {
        self.0
            .session
            .close(crate::engine::CloseReason::TransportClose);
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == CONNECTED
    }

    /// The auth payload of the CONNECT packet (`{}` when none was sent).
    pub fn auth(&self) -> &Value {
        self.0.auth.as_ref().unwrap_or_else(|| empty_object())
    }

    /// The HTTP request that opened the connection.
    pub fn request(&self) -> &RequestInfo {
        self.0.session.request()
    }

    /// The handshake details, as Node's `socket.handshake`.
    pub fn handshake(&self) -> Handshake {
        Handshake::new(self.0.session.request(), self.auth().clone())
    }

    /// The transport the connection currently uses.
    pub fn transport(&self) -> TransportKind {
        self.0.session.transport()
    }

    /// A public id of the connection, shared by its sockets in every
    /// namespace (the Engine.IO session id is a secret: this is a hash of
    /// it, 12 hex digits).
    pub fn client_id(&self) -> SmolStr {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.0.session.sid().as_str().hash(&mut hasher);
        let hash = hasher.finish();
        SmolStr::new(format!("{:012x}", hash >> 16))
    }

    // ---- handlers ----------------------------------------------------------

    /// Registers a handler for an event (several may be registered).
    pub fn on(&self, event: impl Into<String>, handler: impl EventHandler) {
        self.0
            .handlers
            .write()
            .add_event(SmolStr::from(event.into()), Arc::new(handler));
    }

    /// Registers a handler called for every event, before the event's own.
    pub fn on_any(&self, handler: impl EventHandler) {
        self.0.handlers.write().add_any(Arc::new(handler));
    }

    /// Removes the handlers of an event.
    pub fn off(&self, event: &str) {
        self.0.handlers.write().remove_event(event);
    }

    /// Registers a handler called when the socket disconnects, before it
    /// leaves its rooms.
    pub fn on_disconnecting(&self, handler: impl DisconnectHandler) {
        self.0.handlers.write().add_disconnecting(Arc::new(handler));
    }

    /// Registers a handler called once the socket has disconnected.
    pub fn on_disconnect(&self, handler: impl DisconnectHandler) {
        self.0.handlers.write().add_disconnect(Arc::new(handler));
    }

    // ---- data ------------------------------------------------------------------

    /// Stores serializable data on the socket; it travels with
    /// `fetch_sockets` to other nodes.
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), ValueError> {
        *self.0.data.lock() = to_value(data)?;
        Ok(())
    }

    /// The socket's data converted to `T` (`None` if unset or of another shape).
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let value = self.0.data.lock().clone();
        if value.is_null() {
            None
        } else {
            from_value(value).ok()
        }
    }

    /// The socket's data as a `Value`.
    pub fn data_value(&self) -> Value {
        self.0.data.lock().clone()
    }

    /// Names the user this socket is a session of (in a middleware or a
    /// handler): the namespace's presence counts it, on every node, while
    /// it is connected.
    pub fn set_user(&self, user: impl Into<SmolStr>) {
        let user = user.into();
        let previous = self.0.user.lock().replace(user.clone());
        if self.connected() && previous.as_ref() != Some(&user) {
            let adapter = self.0.ns.adapter();
            if let Some(previous) = previous {
                adapter.presence_change(&previous, false);
            }
            adapter.presence_change(&user, true);
        }
    }

    /// The user this socket is a session of, when named.
    pub fn user(&self) -> Option<SmolStr> {
        self.0.user.lock().clone()
    }

    /// Stores a local, non-serializable value (a database handle, a user
    /// record), one per type.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.0.extensions.lock().insert(value);
    }

    /// A value stored with [`Socket::insert_extension`].
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0.extensions.lock().get::<T>().cloned()
    }

    /// What `fetch_sockets` reports about this socket.
    pub fn info(&self) -> SocketInfo {
        SocketInfo {
            id: self.0.id.clone(),
            handshake: self.handshake(),
            rooms: self.rooms(),
            data: self.data_value(),
            user: self.user(),
            transport: Some(SmolStr::new_static(self.transport().as_str())),
            client_id: Some(self.client_id()),
        }
    }
}

/// `{}`, the auth payload of a client that sent none.
fn empty_object() -> &'static Value {
    static EMPTY: std::sync::LazyLock<Value> =
        std::sync::LazyLock::new(|| Value::Object(crate::value::Map::new()));
    &EMPTY
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("ns", self.0.ns.name())
            .finish()
    }
}

impl PendingAcks for SocketInner {
    fn forget(&self, id: u64) {
        self.acks.lock().remove(&id);
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
