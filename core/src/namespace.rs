//! `Namespace`: a named channel of the server, with its sockets,
//! middlewares, connection handlers and adapter; and `DynamicNamespace`,
//! which creates namespaces on demand for names matching a pattern or a
//! predicate.

use crate::adapter::{
    Adapter, AdapterError, AdapterFactory, BroadcastAckFuture, Partial, ServerSideAck,
};
use crate::handler::{self, ConnectHandler, Middleware, ServerAck, ServerEventHandler};
use crate::limits::ClientLimits;
use crate::operator::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::presence::{Gate, PresenceEvent, PresenceGate, PresenceHandler, PresenceTable};
use crate::protocol::{Encoded, Packet, Parser};
use crate::recovery::RecoveryConfig;
use crate::sid::Sid;
use crate::socket::{EmitError, Socket};
use crate::value::Value;
use parking_lot::{RwLock, RwLockReadGuard};
use serde::Serialize;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Settings every namespace of a server shares.
pub(crate) struct NamespaceConfig {
    pub parser: Parser,
    pub ack_timeout: Duration,
    pub adapter: Arc<dyn AdapterFactory>,
    pub recovery: Option<RecoveryConfig>,
    pub limits: ClientLimits,
    /// The server's observer, once one is set.
    pub observer: std::sync::OnceLock<Arc<dyn crate::observe::Observer>>,
}

/// Connection handlers and middlewares; a dynamic namespace shares its own
/// with every namespace it creates.
#[derive(Default)]
pub(crate) struct NamespaceHandlers {
    connection: RwLock<Vec<Arc<dyn ConnectHandler>>>,
    middlewares: RwLock<Vec<Arc<dyn Middleware>>>,
}

/// What a namespace holds on one node ([`Namespace::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamespaceStats {
    /// Sockets connected here.
    pub sockets: usize,
    /// Rooms with members here (each socket's own room included).
    pub rooms: usize,
    /// Acknowledgements the server awaits from these sockets.
    pub pending_acks: usize,
    /// Connection state recovery: packets and sessions kept in memory.
    pub recovery_entries: usize,
    /// Requests to other nodes still waiting for answers.
    pub pending_requests: usize,
}

/// A namespace of the server. Cheap to clone.
#[derive(Clone)]
pub struct Namespace(Arc<NamespaceInner>);

/// A weak handle to a namespace, held by its adapter.
#[derive(Clone)]
pub struct WeakNamespace(Weak<NamespaceInner>);

impl WeakNamespace {
    /// The namespace, if it still exists.
    pub fn upgrade(&self) -> Option<Namespace> {
        self.0.upgrade().map(Namespace)
    }
}

pub(crate) struct NamespaceInner {
    name: SmolStr,
    adapter: Arc<dyn Adapter>,
    sockets: RwLock<HashMap<Sid, Socket>>,
    /// Sockets with a private session id (recovery on), by that id.
    by_pid: RwLock<HashMap<Sid, Socket>>,
    handlers: Arc<NamespaceHandlers>,
    server_events: RwLock<HashMap<String, Arc<dyn ServerEventHandler>>>,
    presence_handlers: RwLock<Vec<Arc<dyn PresenceHandler>>>,
    presence_gate: PresenceGate,
    ack_ids: AtomicU64,
    config: Arc<NamespaceConfig>,
}

impl Namespace {
    pub(crate) fn new(
        name: SmolStr,
        config: Arc<NamespaceConfig>,
        handlers: Arc<NamespaceHandlers>,
    ) -> Namespace {
        Namespace(Arc::new_cyclic(|weak| NamespaceInner {
            adapter: config.adapter.create(&name, WeakNamespace(weak.clone())),
            name,
            sockets: RwLock::new(HashMap::new()),
            by_pid: RwLock::new(HashMap::new()),
            handlers,
            server_events: RwLock::new(HashMap::new()),
            presence_handlers: RwLock::new(Vec::new()),
            presence_gate: PresenceGate::default(),
            ack_ids: AtomicU64::new(0),
            config,
        }))
    }

    /// The name, such as `/` or `/chat`.
    pub fn name(&self) -> &SmolStr {
        &self.0.name
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.0.adapter
    }

    /// The server's observer, if any.
    pub(crate) fn observer(&self) -> Option<&Arc<dyn crate::observe::Observer>> {
        self.0.config.observer.get()
    }

    /// Registers a handler for each connecting socket.
    pub fn on_connection(&self, handler: impl ConnectHandler) {
        self.0.handlers.connection.write().push(Arc::new(handler));
    }

    /// Adds a middleware; middlewares run in order before a socket connects.
    pub fn use_middleware(&self, middleware: impl Middleware) {
        self.0
            .handlers
            .middlewares
            .write()
            .push(Arc::new(middleware));
    }

    /// Registers a handler for an event sent by another server with
    /// `server_side_emit`.
    pub fn on_server_event(&self, event: impl Into<String>, handler: impl ServerEventHandler) {
        self.0
            .server_events
            .write()
            .insert(event.into(), Arc::new(handler));
    }

    /// Delivers another server's event to its handler (cluster adapters call
    /// this). Returns whether a handler exists.
    pub fn dispatch_server_event(
        &self,
        event: &str,
        args: Vec<Value>,
        ack: Option<ServerAck>,
    ) -> bool {
        let Some(h) = self.0.server_events.read().get(event).cloned() else {
            return false;
        };
        handler::run(h.call(args, ack));
        true
    }

    // ---- presence ------------------------------------------------------------

    /// Registers a handler called once when a user's first session
    /// anywhere in the cluster opens, and once when its last one closes
    /// (see [`Socket::set_user`]).
    pub fn on_presence(&self, handler: impl PresenceHandler) {
        self.0.presence_handlers.write().push(Arc::new(handler));
    }

    /// Tells the presence handlers (adapters call this). A user whose
    /// state flaps is heard at a bounded rate, its net change once.
    pub fn dispatch_presence(&self, event: PresenceEvent) {
        match self.0.presence_gate.transition(event) {
            Gate::Pass(event) => self.run_presence_handlers(event),
            Gate::Merged => {}
            Gate::Held(wait) => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                let ns = self.downgrade();
                runtime.spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Some(ns) = ns.upgrade() {
                        for event in ns.0.presence_gate.flush() {
                            ns.run_presence_handlers(event);
                        }
                    }
                });
            }
        }
    }

    fn run_presence_handlers(&self, event: PresenceEvent) {
        let handlers = self.0.presence_handlers.read().clone();
        for h in handlers {
            handler::run(h.call(event.clone()));
        }
    }

    /// Every user online in the namespace, on every node, with its number
    /// of sessions.
    pub fn online_users(&self) -> Vec<(SmolStr, usize)> {
        self.0
            .adapter
            .presence()
            .map(PresenceTable::users)
            .unwrap_or_default()
    }

    /// Whether a user has a session anywhere.
    pub fn is_online(&self, user: &str) -> bool {
        self.sessions_of(user) > 0
    }

    /// A user's sessions, on every node.
    pub fn sessions_of(&self, user: &str) -> usize {
        self.0
            .adapter
            .presence()
            .map_or(0, |table| table.sessions(user))
    }

    /// The users with a session in one of `rooms`, on every node (asks
    /// every node, as `fetch_sockets` does).
    pub async fn online_users_in(
        &self,
        rooms: impl IntoRooms,
    ) -> Result<Vec<SmolStr>, AdapterError> {
        let sockets = self.to(rooms).fetch_sockets().await?;
        let mut users: Vec<SmolStr> = sockets.into_iter().filter_map(|s| s.user).collect();
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// A weak handle, for handlers the namespace itself holds (a strong
    /// one there would keep the namespace alive forever).
    pub fn downgrade(&self) -> WeakNamespace {
        WeakNamespace(Arc::downgrade(&self.0))
    }

    // ---- operators ---------------------------------------------------------

    /// An operator on every socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Targets the members of rooms.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Namespace::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket except the members of rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets sockets on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// Volatile delivery: dropped for clients not ready to receive.
    pub fn volatile(&self) -> BroadcastOperator {
        self.broadcast().volatile()
    }

    /// Acknowledgement timeout of the next `emit_with_ack`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.broadcast().timeout(timeout)
    }

    /// Emits an event with one argument to every socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// Emits an event with any number of arguments to every socket.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        self.broadcast().emit_args(event, args)
    }

    /// Emits to every socket and collects their answers (see
    /// [`BroadcastOperator::emit_with_ack`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<BroadcastAckFuture, EmitError> {
        Ok(Box::pin(self.broadcast().emit_with_ack(event, data)?))
    }

    /// Describes every socket of the namespace, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.broadcast().fetch_sockets().await
    }

    /// Makes every socket join rooms, on every node (see
    /// [`BroadcastOperator::sockets_join`]).
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> crate::adapter::JoinFuture {
        self.broadcast().sockets_join(rooms)
    }

    /// Makes every socket leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.broadcast().sockets_leave(rooms)
    }

    /// Disconnects every socket.
    pub fn disconnect_sockets(&self, close: bool) {
        self.broadcast().disconnect_sockets(close)
    }

    /// Emits an event to the same namespace on the other servers.
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(), AdapterError> {
        self.0
            .adapter
            .server_side_emit(event, args, None)
            .await
            .map(|_| ())
    }

    /// Emits to the other servers and collects their answers.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Partial<Vec<ServerSideAck>>, AdapterError> {
        self.0
            .adapter
            .server_side_emit(event, args, Some(timeout))
            .await
    }

    /// How many servers serve this namespace.
    pub async fn server_count(&self) -> usize {
        self.0.adapter.server_count().await
    }

    // ---- local sockets -------------------------------------------------------

    /// A socket of this node, by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.0.sockets.read().get(id).cloned()
    }

    /// The sockets of this node.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.sockets.read().values().cloned().collect()
    }

    /// How many sockets this node has in the namespace.
    pub fn socket_count(&self) -> usize {
        self.0.sockets.read().len()
    }

    /// What the namespace holds on this node (for metrics, and for soaks
    /// that check it all goes once every client is gone). Walks the
    /// sockets: for a scrape, not for a hot path.
    pub fn stats(&self) -> NamespaceStats {
        let (sockets, pending_acks) = {
            let sockets = self.0.sockets.read();
            let acks = sockets.values().map(Socket::pending_acks).sum();
            (sockets.len(), acks)
        };
        let keep = self
            .recovery()
            .map_or(std::time::Duration::ZERO, |r| r.max_disconnection_duration);
        let held = self.0.adapter.held(keep);
        NamespaceStats {
            sockets,
            rooms: self.0.adapter.rooms().len(),
            pending_acks,
            recovery_entries: held.recovery_entries,
            pending_requests: held.pending_requests,
        }
    }

    // ---- internals -------------------------------------------------------------

    pub(crate) fn sockets_read(&self) -> RwLockReadGuard<'_, HashMap<Sid, Socket>> {
        self.0.sockets.read()
    }

    pub(crate) fn insert_socket(&self, socket: Socket) {
        if let Some(pid) = socket.pid() {
            self.0.by_pid.write().insert(pid.clone(), socket.clone());
        }
        self.0.sockets.write().insert(socket.id().clone(), socket);
    }

    pub(crate) fn remove_socket(&self, id: &Sid) {
        let removed = self.0.sockets.write().remove(id);
        if let Some(pid) = removed.as_ref().and_then(Socket::pid) {
            let mut by_pid = self.0.by_pid.write();
            if by_pid.get(pid) == removed.as_ref() {
                by_pid.remove(pid);
            }
        }
    }

    /// Removes a socket by id if it is this very socket (a recovered socket
    /// that failed must not remove one that took its id meanwhile).
    pub(crate) fn remove_socket_if(&self, id: &Sid, socket: &Socket) {
        let present = self.0.sockets.read().get(id) == Some(socket);
        if present {
            self.remove_socket(id);
        }
    }

    /// Connection state recovery: the client of the session `pid` came back
    /// while its socket here still looks connected (its old transport died
    /// silently, or was relayed by a node that left). Closes that socket's
    /// connection, which keeps its session for recovery; returns whether
    /// there was one.
    pub fn evict(&self, pid: &str) -> bool {
        let socket = self.0.by_pid.read().get(pid).cloned();
        match socket {
            Some(socket) if socket.connected() => {
                tracing::debug!(sid = %socket.id(), ns = %self.0.name, "the client came back: its old connection is closed");
                socket.close_connection();
                true
            }
            _ => false,
        }
    }

    pub(crate) fn middlewares(&self) -> Vec<Arc<dyn Middleware>> {
        self.0.handlers.middlewares.read().clone()
    }

    pub(crate) fn connection_handlers(&self) -> Vec<Arc<dyn ConnectHandler>> {
        self.0.handlers.connection.read().clone()
    }

    /// The wire format of the server.
    pub fn parser(&self) -> Parser {
        self.0.config.parser
    }

    /// Encodes a packet for this namespace's clients (logged if impossible).
    pub fn encode(&self, packet: &Packet) -> Option<Encoded> {
        match self.0.config.parser.encode(packet) {
            Ok(encoded) => Some(encoded),
            Err(e) => {
                tracing::error!(ns = %self.0.name, error = %e, "cannot encode packet");
                None
            }
        }
    }

    /// A fresh acknowledgement id (unique in the namespace, so one id can
    /// serve every recipient of a broadcast).
    pub fn next_ack_id(&self) -> u64 {
        self.0.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn ack_timeout(&self) -> Duration {
        self.0.config.ack_timeout
    }

    /// The connection state recovery settings, when recovery is on.
    pub fn recovery(&self) -> Option<RecoveryConfig> {
        self.0.config.recovery
    }

    /// What one client may cost.
    pub fn limits(&self) -> &ClientLimits {
        &self.0.config.limits
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.0.name)
            .finish()
    }
}

/// Decides whether a name (with the CONNECT auth payload) is a namespace.
pub(crate) type Predicate = Box<dyn Fn(&str, &Value) -> bool + Send + Sync>;

/// How a dynamic namespace recognizes names.
pub(crate) enum Matcher {
    Pattern(regex_lite::Regex),
    Predicate(Predicate),
}

impl Matcher {
    fn matches(&self, name: &str, auth: &Value) -> bool {
        match self {
            Matcher::Pattern(re) => re.is_match(name),
            Matcher::Predicate(f) => f(name, auth),
        }
    }
}

/// Namespaces created on demand for names that match (Node's
/// `io.of(/^\/room-\d+$/)`). Handlers and middlewares registered here
/// apply to every namespace it creates.
#[derive(Clone)]
pub struct DynamicNamespace(pub(crate) Arc<DynamicInner>);

pub(crate) struct DynamicInner {
    matcher: Matcher,
    handlers: Arc<NamespaceHandlers>,
    children: RwLock<Vec<Namespace>>,
}

impl DynamicNamespace {
    pub(crate) fn new(matcher: Matcher) -> Self {
        DynamicNamespace(Arc::new(DynamicInner {
            matcher,
            handlers: Arc::new(NamespaceHandlers::default()),
            children: RwLock::new(Vec::new()),
        }))
    }

    /// Registers a handler for sockets connecting to any matching namespace.
    pub fn on_connection(&self, handler: impl ConnectHandler) {
        self.0.handlers.connection.write().push(Arc::new(handler));
    }

    /// Adds a middleware for every matching namespace.
    pub fn use_middleware(&self, middleware: impl Middleware) {
        self.0
            .handlers
            .middlewares
            .write()
            .push(Arc::new(middleware));
    }

    /// The namespaces created so far.
    pub fn children(&self) -> Vec<Namespace> {
        self.0.children.read().clone()
    }

    /// Emits an event to every socket of every created namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        for ns in self.children() {
            ns.emit(event, data)?;
        }
        Ok(())
    }
}

impl DynamicInner {
    /// Whether `name` (with this CONNECT auth) is one of these namespaces.
    pub(crate) fn matches(&self, name: &str, auth: &Value) -> bool {
        self.matcher.matches(name, auth)
    }

    /// Creates the namespace `name` (which matches).
    pub(crate) fn create(&self, name: &str, config: &Arc<NamespaceConfig>) -> Namespace {
        let ns = Namespace::new(SmolStr::new(name), config.clone(), self.handlers.clone());
        self.children.write().push(ns.clone());
        ns
    }
}
