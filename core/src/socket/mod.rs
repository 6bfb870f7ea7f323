//! `Socket`: one client connected to one namespace.

mod ack;
mod emit;
mod hold;
mod reason;

pub use crate::adapter::JoinError;
pub(crate) use ack::AckSink;
pub use ack::{Ack, AckError, AckFuture, Event};
pub(crate) use emit::check_event;
pub use emit::{EmitError, SocketEmitter};
pub(crate) use hold::offset_of;
pub use reason::DisconnectReason;

use crate::adapter::{JoinFuture, Room, SocketInfo};
use crate::client::ClientSession;
use crate::engine::{Push, RequestInfo, TransportKind};
use crate::handler::{self, DisconnectHandler, EventHandler};
use crate::handshake::Handshake;
use crate::limits::{Rate, Refused, TokenBucket};
use crate::namespace::Namespace;
use crate::operator::{BroadcastOperator, IntoRooms};
use crate::protocol::{Encoded, Packet, PacketKind};
use crate::recovery::SessionState;
use crate::sid::Sid;
use crate::value::{Value, ValueError, from_value, to_value};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use smol_str::SmolStr;
use std::collections::HashMap;
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
    session: Arc<ClientSession>,
    auth: Value,
    /// PENDING (middlewares running), CONNECTED, or CLOSED.
    state: AtomicU8,
    handlers: RwLock<Handlers>,
    pub(crate) acks: Mutex<HashMap<u64, AckSink>>,
    data: Mutex<Value>,
    /// The user this socket is a session of (presence).
    user: Mutex<Option<SmolStr>>,
    extensions: Mutex<http::Extensions>,
    /// The incoming event rate, when limited.
    event_rate: Option<(Rate, Mutex<TokenBucket>)>,
    /// Live deliveries kept back while a recovery replays.
    hold: hold::Hold,
}

#[derive(Default)]
struct Handlers {
    events: HashMap<String, Vec<Arc<dyn EventHandler>>>,
    any: Vec<Arc<dyn EventHandler>>,
    disconnecting: Vec<Arc<dyn DisconnectHandler>>,
    disconnect: Vec<Arc<dyn DisconnectHandler>>,
}

const PENDING: u8 = 0;
const CONNECTED: u8 = 1;
const CLOSED: u8 = 2;

/// Pending broadcast acks are pruned once a socket holds this many.
const ACK_PRUNE_THRESHOLD: usize = 32;

impl Socket {
    pub(crate) fn new(ns: Namespace, session: Arc<ClientSession>, auth: Value) -> Socket {
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
        session: Arc<ClientSession>,
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
        session: Arc<ClientSession>,
        auth: Value,
        id: Sid,
        pid: Option<Sid>,
        data: Value,
        recovered: bool,
    ) -> Socket {
        let event_rate = ns
            .limits()
            .event_rate
            .map(|rate| (rate, Mutex::new(TokenBucket::new(rate))));
        Socket(Arc::new(SocketInner {
            id,
            pid,
            recovered,
            offered: std::sync::atomic::AtomicBool::new(recovered),
            ns,
            session,
            auth,
            state: AtomicU8::new(PENDING),
            handlers: RwLock::new(Handlers::default()),
            acks: Mutex::new(HashMap::new()),
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
        &self.0.auth
    }

    /// The HTTP request that opened the connection.
    pub fn request(&self) -> &RequestInfo {
        self.0.session.request()
    }

    /// The handshake details, as Node's `socket.handshake`.
    pub fn handshake(&self) -> Handshake {
        Handshake::new(self.0.session.request(), self.0.auth.clone())
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
            .events
            .entry(event.into())
            .or_default()
            .push(Arc::new(handler));
    }

    /// Registers a handler called for every event, before the event's own.
    pub fn on_any(&self, handler: impl EventHandler) {
        self.0.handlers.write().any.push(Arc::new(handler));
    }

    /// Removes the handlers of an event.
    pub fn off(&self, event: &str) {
        self.0.handlers.write().events.remove(event);
    }

    /// Registers a handler called when the socket disconnects, before it
    /// leaves its rooms.
    pub fn on_disconnecting(&self, handler: impl DisconnectHandler) {
        self.0
            .handlers
            .write()
            .disconnecting
            .push(Arc::new(handler));
    }

    /// Registers a handler called once the socket has disconnected.
    pub fn on_disconnect(&self, handler: impl DisconnectHandler) {
        self.0.handlers.write().disconnect.push(Arc::new(handler));
    }

    // ---- emitting ----------------------------------------------------------

    /// Emits an event with one argument.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        SocketEmitter::new(self).emit(event, data)
    }

    /// Emits an event with any number of arguments.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        SocketEmitter::new(self).emit_args(event, args)
    }

    /// Emits an event and waits for the client's answer (default timeout:
    /// the server's `ack_timeout`).
    pub fn emit_with_ack<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> AckFuture {
        SocketEmitter::new(self).emit_with_ack(event, data)
    }

    /// Emits with any number of arguments and waits for the answer.
    pub fn emit_with_ack_args(&self, event: &str, args: Vec<Value>) -> AckFuture {
        SocketEmitter::new(self).emit_with_ack_args(event, args)
    }

    /// The next emit may be dropped if the client is not ready for it.
    pub fn volatile(&self) -> SocketEmitter<'_> {
        SocketEmitter::new(self).volatile()
    }

    /// The next emit's acknowledgement timeout.
    pub fn timeout(&self, timeout: std::time::Duration) -> SocketEmitter<'_> {
        SocketEmitter::new(self).timeout(timeout)
    }

    /// Compression hint for the next emit (accepted for API parity).
    pub fn compress(&self, compress: bool) -> SocketEmitter<'_> {
        SocketEmitter::new(self).compress(compress)
    }

    // ---- rooms ---------------------------------------------------------------

    /// Joins rooms, at once on this node. A middleware may join rooms before
    /// the socket connects (they are left again if the connection is refused).
    ///
    /// The returned [`JoinFuture`] resolves once the join takes effect
    /// cluster-wide: await it before telling anyone "joined" when a
    /// broadcast from another node must not miss the socket. It resolves at
    /// once with a refusal, and nothing joined, when a room name is longer
    /// than `max_room_name_bytes` or the socket would be in more than
    /// `max_rooms_per_socket` rooms ([`ClientLimits`](crate::limits::ClientLimits)).
    /// A closed socket joins nothing (a handler may outlive it).
    pub fn join(&self, rooms: impl IntoRooms) -> JoinFuture {
        if self.0.state.load(Ordering::Acquire) == CLOSED {
            return JoinFuture::ready();
        }
        let rooms = rooms.into_rooms();
        let limits = self.0.ns.limits();
        if let Some(long) = rooms.iter().find(|r| r.len() > limits.max_room_name_bytes) {
            crate::refused!(Refused::RoomName, sid = %self.0.id, ns = %self.0.ns.name(), bytes = long.len(), "room name too long: join refused");
            return JoinFuture::refused(JoinError::NameTooLong(limits.max_room_name_bytes));
        }
        let adapter = self.0.ns.adapter();
        let current = adapter.socket_rooms(&self.0.id);
        let mut added = 0;
        for (i, room) in rooms.iter().enumerate() {
            if !current.contains(room) && !rooms[..i].contains(room) {
                added += 1;
            }
        }
        if current.len() + added > limits.max_rooms_per_socket {
            crate::refused!(Refused::Rooms, sid = %self.0.id, ns = %self.0.ns.name(), rooms = current.len(), max = limits.max_rooms_per_socket, "too many rooms: join refused");
            return JoinFuture::refused(JoinError::TooManyRooms(limits.max_rooms_per_socket));
        }
        adapter.add_all(&self.0.id, &rooms)
    }

    /// Leaves a room.
    pub fn leave(&self, room: impl Into<Room>) {
        self.0.ns.adapter().del(&self.0.id, &room.into());
    }

    /// The rooms the socket is in (its own included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter().socket_rooms(&self.0.id)
    }

    /// Targets the members of rooms, except this socket.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace except this one and the
    /// members of `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(self.0.id.clone())
    }

    /// Targets every other socket of the namespace on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
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

    // ---- leaving ---------------------------------------------------------------

    /// Disconnects from the namespace (the client hears a DISCONNECT). With
    /// `close`, the whole connection closes and every namespace of the
    /// client disconnects.
    pub fn disconnect(&self, close: bool) {
        if close {
            crate::client::disconnect_all(&self.0.session);
        } else if self.connected() {
            let packet = Packet {
                ns: self.0.ns.name().clone(),
                kind: PacketKind::Disconnect,
            };
            if let Some(encoded) = self.0.ns.encode(&packet)
                && let hold::Kept::Deliver = self.keep(&encoded, false, &packet)
            {
                self.push(&encoded, false);
            }
            self.close(DisconnectReason::ServerNamespaceDisconnect);
        }
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

    // ---- internals -------------------------------------------------------------

    /// Queues an encoded packet; `false` if it was not queued.
    pub(crate) fn push(&self, encoded: &Encoded, volatile: bool) -> bool {
        self.0.session.push(encoded.frames(), volatile) == Push::Queued
    }

    /// Delivers a broadcast packet: queued, or kept back while the socket
    /// is being recovered (see `hold`). `false` if it was not delivered.
    /// `since`: when the broadcast was emitted on this node (or arrived).
    pub(crate) fn deliver(
        &self,
        encoded: &Encoded,
        volatile: bool,
        packet: &Packet,
        since: std::time::Instant,
    ) -> bool {
        if let Some(observer) = self.0.ns.observer() {
            observer.event_sent(self, packet);
        }
        if !self.0.offered.load(Ordering::Relaxed) && hold::has_offset(packet) {
            self.0.offered.store(true, Ordering::Relaxed);
        }
        match self.keep(encoded, volatile, packet) {
            hold::Kept::Deliver => {
                self.0
                    .session
                    .push_since(encoded.frames(), volatile, Some(since))
                    == Push::Queued
            }
            hold::Kept::Held | hold::Kept::Duplicate => true,
            hold::Kept::Overflow => false,
        }
    }

    /// Keeps a delivery back while the socket is held (connecting, or being
    /// recovered); past the client's budget the client is disconnected.
    fn keep(&self, encoded: &Encoded, volatile: bool, packet: &Packet) -> hold::Kept {
        let budget = self.0.session.engine.config.max_client_buffer_bytes;
        let kept = self.0.hold.keep(encoded, volatile, packet, budget);
        if let hold::Kept::Overflow = kept {
            crate::refused!(Refused::ClientBuffer, sid = %self.0.id, "too much arrived while connecting: disconnecting");
            let session = self.0.session.clone();
            tokio::spawn(
                async move { session.close(crate::engine::CloseReason::OutgoingBufferFull) },
            );
        }
        kept
    }

    /// Keeps deliveries back until [`Socket::release`] (while connecting:
    /// nothing may precede the CONNECT reply, nor, when recovering, the
    /// replay).
    pub(crate) fn hold(&self) {
        self.0.hold.begin();
    }

    /// Sends `first` (the CONNECT reply, then the replay), then what was
    /// kept back and is not in the replay (by offset), and ends the hold.
    pub(crate) fn release(&self) {
        self.0.hold.release(|encoded, volatile| {
            self.push(encoded, volatile);
        });
    }

    /// What [`Socket::release`] sends before what was kept back: the
    /// CONNECT reply and the replay, with the replay's offsets.
    pub(crate) fn prepare_release(
        &self,
        first: Vec<Encoded>,
        replayed: std::collections::HashSet<SmolStr>,
    ) {
        self.0.hold.prepare(first, replayed);
    }

    pub(crate) fn push_packet(
        &self,
        packet: &Packet,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        if let Some(observer) = self.0.ns.observer()
            && matches!(packet.kind, PacketKind::Event { .. })
        {
            observer.event_sent(self, packet);
        }
        let encoded = self
            .0
            .ns
            .parser()
            .encode(packet)
            .map_err(|e| EmitError::Encode(e.to_string()))?;
        let encoded = if compress { encoded } else { encoded.plain() };
        match self.keep(&encoded, volatile, packet) {
            hold::Kept::Deliver => {}
            hold::Kept::Held | hold::Kept::Duplicate => return Ok(()),
            hold::Kept::Overflow => return Err(EmitError::BufferFull),
        }
        match self.0.session.push(encoded.frames(), volatile) {
            Push::Queued | Push::DroppedVolatile => Ok(()),
            Push::Closed => Err(EmitError::Disconnected),
            Push::Overflow => Err(EmitError::BufferFull),
        }
    }

    pub(crate) fn send_ack(&self, id: u64, args: Vec<Value>) -> Result<(), EmitError> {
        let packet = Packet {
            ns: self.0.ns.name().clone(),
            kind: PacketKind::Ack { id, args },
        };
        self.push_packet(&packet, false, true)
    }

    pub(crate) fn register_ack(&self, id: u64, sink: AckSink) {
        let mut acks = self.0.acks.lock();
        if acks.len() >= ACK_PRUNE_THRESHOLD {
            // Broadcast acks whose emitter stopped waiting are dropped here.
            acks.retain(|_, sink| !sink.is_abandoned());
        }
        acks.insert(id, sink);
    }

    /// Forgets a socket that never connected (refused, or its client left).
    pub(crate) fn abandon(&self) {
        self.0.state.store(CLOSED, Ordering::Release);
        self.0.hold.abandon();
        self.0.ns.adapter().del_all(&self.0.id);
        self.0.ns.remove_socket_if(&self.0.id, self);
    }

    pub(crate) fn set_connected(&self) {
        self.0.state.store(CONNECTED, Ordering::Release);
        let adapter = self.0.ns.adapter();
        // Its own room: other nodes reach it by broadcast; no need to wait.
        drop(adapter.add_all(&self.0.id, &[Room::new(self.0.id.as_str())]));
        if let Some(user) = self.user() {
            adapter.presence_change(&user, true);
        }
    }

    /// Handles a packet for this namespace (not CONNECT).
    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.kind {
            PacketKind::Event { name, args, ack } => self.dispatch(name, args, ack),
            PacketKind::Ack { id, args } => match self.0.acks.lock().remove(&id) {
                Some(sink) => sink.resolve(args),
                None => tracing::trace!(sid = %self.0.id, id, "ack for an unknown or expired id"),
            },
            PacketKind::Disconnect => self.close(DisconnectReason::ClientNamespaceDisconnect),
            PacketKind::Connect(_) | PacketKind::ConnectError(_) => {}
        }
    }

    fn dispatch(&self, name: String, args: Vec<Value>, ack: Option<u64>) {
        if !self.connected() {
            return;
        }
        if let Some((rate, bucket)) = &self.0.event_rate
            && !bucket.lock().take(*rate)
        {
            crate::refused!(Refused::EventRate, sid = %self.0.id, ns = %self.0.ns.name(), "events too fast: socket disconnected");
            self.disconnect(false);
            return;
        }
        if let Some(observer) = self.0.ns.observer() {
            observer.event_received(self, &name, &args);
        }
        let (any, own) = {
            let handlers = self.0.handlers.read();
            (
                handlers.any.clone(),
                handlers.events.get(&name).cloned().unwrap_or_default(),
            )
        };
        if any.is_empty() && own.is_empty() {
            tracing::trace!(sid = %self.0.id, event = %name, "no handler for event");
            return;
        }
        let mut event = Some(Event {
            name,
            args,
            ack: ack.map(|id| Ack::new(self.clone(), id)),
        });
        let mut handlers = any.iter().chain(own.iter()).peekable();
        while let Some(h) = handlers.next() {
            // The last handler takes the event; earlier ones get copies.
            let event = if handlers.peek().is_some() {
                event.clone()
            } else {
                event.take()
            };
            if let Some(event) = event {
                handler::run(h.call(self.clone(), event));
            }
        }
    }

    /// Leaves the namespace: handlers hear `reason`, rooms are left, pending
    /// acks fail. Runs once.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if self
            .0
            .state
            .compare_exchange(CONNECTED, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let (disconnecting, disconnect) = {
            let h = self.0.handlers.read();
            (h.disconnecting.clone(), h.disconnect.clone())
        };
        for h in disconnecting {
            handler::run(h.call(self.clone(), reason));
        }
        if let (Some(recovery), Some(pid)) = (self.0.ns.recovery(), &self.0.pid)
            && reason.is_recoverable()
            && self.0.offered.load(Ordering::Relaxed)
        {
            let session = SessionState {
                sid: self.0.id.clone(),
                pid: pid.clone(),
                rooms: self.rooms(),
                data: self.data_value(),
                user: self.user(),
            };
            self.0
                .ns
                .adapter()
                .persist_session(session, recovery.max_disconnection_duration);
        }
        self.0.ns.adapter().del_all(&self.0.id);
        if let Some(user) = self.user() {
            self.0.ns.adapter().presence_change(&user, false);
        }
        self.0.ns.remove_socket(&self.0.id);
        crate::client::forget_socket(&self.0.session, self.0.ns.name());
        self.0.acks.lock().clear();
        if let Some(observer) = self.0.ns.observer() {
            observer.socket_disconnected(self, reason);
        }
        for h in disconnect {
            handler::run(h.call(self.clone(), reason));
        }
        // Handlers often capture the socket: drop them to free it.
        *self.0.handlers.write() = Handlers::default();
        tracing::debug!(sid = %self.0.id, ns = %self.0.ns.name(), %reason, "socket disconnected");
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("ns", self.0.ns.name())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
