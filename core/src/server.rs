//! `SocketIo`: the server — its settings, namespaces, and the entry points
//! to serve it.

use crate::adapter::{AdapterError, AdapterFactory, BroadcastAckFuture, LocalAdapterFactory};
use crate::client::ClientSession;
use crate::engine::{CloseReason, CorsConfig, Engine, EngineConfig, SessionRouter, Transports};
use crate::handler::{ConnectHandler, Middleware};
use crate::limits::{ClientLimits, Refused};
use crate::namespace::{
    DynamicInner, DynamicNamespace, Matcher, Namespace, NamespaceConfig, NamespaceHandlers,
};
use crate::operator::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::protocol::Parser;
use crate::recovery::RecoveryConfig;
use crate::socket::EmitError;
use crate::timer::FifoTimer;
use crate::value::Value;
use parking_lot::RwLock;
use serde::Serialize;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Server settings, with Node.js Socket.IO's defaults.
#[derive(Clone)]
pub struct ServerConfig {
    /// Transport settings (path, heartbeat, CORS, limits).
    pub engine: EngineConfig,
    /// How long a connection may stay without joining a namespace. Default 45 s.
    pub connect_timeout: Duration,
    /// Default acknowledgement timeout of `emit_with_ack`. Default 5 s.
    pub ack_timeout: Duration,
    /// Wire format. Default JSON (`socket.io-parser`).
    pub parser: Parser,
    /// Builds each namespace's adapter. Default: in-memory.
    pub adapter: Arc<dyn AdapterFactory>,
    /// Connection state recovery. Default: off.
    pub connection_state_recovery: Option<RecoveryConfig>,
    /// What one client may cost the Socket.IO layer (packet size in values,
    /// handshake data, rates, namespaces, rooms).
    pub limits: ClientLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(5),
            parser: Parser::Json,
            adapter: Arc::new(LocalAdapterFactory),
            connection_state_recovery: None,
            limits: ClientLimits::default(),
        }
    }
}

impl ServerConfig {
    /// Path the server answers on.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine.path = path.into();
        self
    }
    /// Interval between pings.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine.ping_interval = d;
        self
    }
    /// Time a client has to answer a ping.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine.ping_timeout = d;
        self
    }
    /// Write coalescing delay for WebSocket connections (see
    /// [`EngineConfig::write_delay`]).
    pub fn write_delay(mut self, d: Duration) -> Self {
        self.engine.write_delay = d;
        self
    }
    /// Largest message accepted.
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.engine.max_http_buffer_size = bytes;
        self
    }
    /// Enabled transports.
    pub fn transports(mut self, transports: Transports) -> Self {
        self.engine.transports = transports;
        self
    }
    /// Cross-origin settings.
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.engine.cors = Some(cors);
        self
    }
    /// Time allowed to join a namespace.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Default acknowledgement timeout.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.ack_timeout = d;
        self
    }
    /// Wire format.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
    /// Forwards requests for other nodes' sessions to their owner (a
    /// cluster's router), so load balancers need no sticky sessions.
    pub fn session_router(mut self, router: Arc<dyn SessionRouter>) -> Self {
        self.engine.session_router = Some(router);
        self
    }
    /// Turns connection state recovery on.
    pub fn connection_state_recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.connection_state_recovery = Some(recovery);
        self
    }
    /// Adapter factory (a cluster adapter).
    pub fn adapter(mut self, adapter: impl AdapterFactory) -> Self {
        self.adapter = Arc::new(adapter);
        self
    }
    /// What one client may cost.
    pub fn limits(mut self, limits: ClientLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Counters of a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Engine.IO sessions open on this node.
    pub sessions: usize,
    /// Of them, over HTTP long-polling.
    pub polling_sessions: usize,
    /// Requests forwarded to the node owning their session.
    pub forwarded_requests: u64,
    /// Engine.IO packets received from clients (the metrics'
    /// `switchyard_packets_received_total`).
    pub packets_received: u64,
    /// Bytes of those packets.
    pub bytes_received: u64,
    /// Packets queued for clients (a binary packet with its attachments
    /// is one).
    pub packets_sent: u64,
    /// Bytes of those packets.
    pub bytes_sent: u64,
}

/// The Socket.IO part of the server, shared by every session.
pub(crate) struct ServerState {
    pub config: Arc<NamespaceConfig>,
    namespaces: RwLock<HashMap<SmolStr, Namespace>>,
    dynamic: RwLock<Vec<Arc<DynamicInner>>>,
    /// Namespaces created by dynamic namespaces so far.
    dynamic_created: std::sync::atomic::AtomicUsize,
    pub connect_timeouts: FifoTimer<Weak<ClientSession>>,
}

/// Why a CONNECT found no namespace.
pub(crate) enum NoNamespace {
    /// No namespace has that name, and no dynamic namespace matches it.
    Unknown,
    /// A dynamic namespace matches, but `max_dynamic_namespaces` is reached.
    TooMany,
}

impl ServerState {
    /// The namespace for a CONNECT: an existing one, or a new one from a
    /// matching dynamic namespace (within `max_dynamic_namespaces`).
    pub(crate) fn namespace_for(&self, name: &str, auth: &Value) -> Result<Namespace, NoNamespace> {
        use std::sync::atomic::Ordering;
        if let Some(ns) = self.namespaces.read().get(name) {
            return Ok(ns.clone());
        }
        let dynamic = self.dynamic.read().clone();
        for parent in dynamic {
            if !parent.matches(name, auth) {
                continue;
            }
            let max = self.config.limits.max_dynamic_namespaces;
            if self.dynamic_created.load(Ordering::Relaxed) >= max {
                crate::refused!(Refused::DynamicNamespaces, ns = %name, max, "dynamic namespace refused: the limit is reached");
                return Err(NoNamespace::TooMany);
            }
            let mut namespaces = self.namespaces.write();
            // Another connection may have created it meanwhile.
            if let Some(ns) = namespaces.get(name) {
                return Ok(ns.clone());
            }
            let ns = parent.create(name, &self.config);
            self.dynamic_created.fetch_add(1, Ordering::Relaxed);
            namespaces.insert(SmolStr::new(name), ns.clone());
            return Ok(ns);
        }
        Err(NoNamespace::Unknown)
    }
}

/// A weak handle to a [`SocketIo`].
#[derive(Clone)]
pub struct WeakSocketIo(crate::engine::WeakEngine<ServerState>);

impl WeakSocketIo {
    /// The server, if it still exists.
    pub fn upgrade(&self) -> Option<SocketIo> {
        self.0.upgrade().map(|engine| SocketIo { engine })
    }
}

/// A Socket.IO server. Cheap to clone; clones share everything.
///
/// ```
/// use switchyard_core::{SocketIo, Socket, Event};
///
/// let io = SocketIo::default();
/// io.on_connection(|socket: Socket| async move {
///     socket.on("echo", |_socket: Socket, event: Event| async move {
///         let _ = event.ack_args(event.args.clone());
///     });
/// });
/// ```
#[derive(Clone)]
pub struct SocketIo {
    engine: Engine<ServerState>,
}

impl Default for SocketIo {
    fn default() -> Self {
        SocketIo::new(ServerConfig::default())
    }
}

impl SocketIo {
    /// A server with these settings; the main namespace `/` exists.
    pub fn new(config: ServerConfig) -> SocketIo {
        let connect_timeouts = FifoTimer::new(
            config.connect_timeout,
            |session: Weak<ClientSession>, _| {
                if let Some(session) = session.upgrade()
                    && !session.data.joined_once()
                    && !session.is_closed()
                {
                    tracing::debug!(sid = %session.sid(), "no namespace joined within the connect timeout");
                    session.close(CloseReason::ForcedClose);
                }
            },
        );
        let state = ServerState {
            config: Arc::new(NamespaceConfig {
                parser: config.parser,
                ack_timeout: config.ack_timeout,
                adapter: config.adapter,
                recovery: config.connection_state_recovery,
                limits: config.limits,
                observer: std::sync::OnceLock::new(),
            }),
            namespaces: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(Vec::new()),
            dynamic_created: std::sync::atomic::AtomicUsize::new(0),
            connect_timeouts,
        };
        let io = SocketIo {
            engine: Engine::new(config.engine, state),
        };
        io.of("/");
        io
    }

    /// A handle that does not keep the server alive (for tasks and
    /// handlers that the server itself holds).
    pub fn downgrade(&self) -> WeakSocketIo {
        WeakSocketIo(self.engine.downgrade())
    }

    pub(crate) fn engine(&self) -> &Engine<ServerState> {
        &self.engine
    }

    /// The engine settings.
    pub fn engine_config(&self) -> &EngineConfig {
        self.engine.config()
    }

    /// Counters of this server (for metrics).
    pub fn stats(&self) -> ServerStats {
        let (sessions, polling_sessions) = self.engine.session_counts();
        let [packets_received, bytes_received, packets_sent, bytes_sent] = self.engine.traffic();
        ServerStats {
            sessions,
            polling_sessions,
            forwarded_requests: self.engine.forwarded_requests(),
            packets_received,
            bytes_received,
            packets_sent,
            bytes_sent,
        }
    }

    /// Sets the server's observer (see [`Observer`](crate::Observer));
    /// `false` if it already has one.
    pub fn observe(&self, observer: impl crate::observe::Observer) -> bool {
        self.engine
            .handler()
            .config
            .observer
            .set(Arc::new(observer))
            .is_ok()
    }

    /// The namespace `name`, created if needed (Node's `io.of(name)`).
    pub fn of(&self, name: impl AsRef<str>) -> Namespace {
        let name = name.as_ref();
        let name = if name.starts_with('/') {
            SmolStr::new(name)
        } else {
            SmolStr::new(format!("/{name}"))
        };
        let state = self.engine.handler();
        if let Some(ns) = state.namespaces.read().get(&name) {
            return ns.clone();
        }
        state
            .namespaces
            .write()
            .entry(name.clone())
            .or_insert_with(|| {
                Namespace::new(
                    name,
                    state.config.clone(),
                    Arc::new(NamespaceHandlers::default()),
                )
            })
            .clone()
    }

    /// Namespaces created on demand for names matching a regular expression.
    pub fn of_pattern(&self, pattern: &str) -> Result<DynamicNamespace, regex_lite::Error> {
        let re = regex_lite::Regex::new(pattern)?;
        Ok(self.add_dynamic(Matcher::Pattern(re)))
    }

    /// Namespaces created on demand for names the predicate accepts (it
    /// sees the name and the CONNECT auth payload).
    pub fn of_predicate(
        &self,
        predicate: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> DynamicNamespace {
        self.add_dynamic(Matcher::Predicate(Box::new(predicate)))
    }

    fn add_dynamic(&self, matcher: Matcher) -> DynamicNamespace {
        let dynamic = DynamicNamespace::new(matcher);
        self.engine
            .handler()
            .dynamic
            .write()
            .push(dynamic.0.clone());
        dynamic
    }

    /// The namespaces that exist.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.engine
            .handler()
            .namespaces
            .read()
            .values()
            .cloned()
            .collect()
    }

    /// Registers a connection handler on `/`.
    pub fn on_connection(&self, handler: impl ConnectHandler) {
        self.of("/").on_connection(handler);
    }

    /// Adds a middleware on `/`.
    pub fn use_middleware(&self, middleware: impl Middleware) {
        self.of("/").use_middleware(middleware);
    }

    /// Targets members of rooms of `/`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Same as [`SocketIo::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of `/` except members of rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// Targets sockets of `/` on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Volatile delivery on `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").volatile()
    }

    /// Acknowledgement timeout for the next broadcast on `/`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.of("/").timeout(timeout)
    }

    /// Emits to every socket of `/`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.of("/").emit(event, data)
    }

    /// Emits to every socket of `/` with any number of arguments.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        self.of("/").emit_args(event, args)
    }

    /// Emits to every socket of `/` and collects their answers.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<BroadcastAckFuture, EmitError> {
        self.of("/").emit_with_ack(event, data)
    }

    /// Describes every socket of `/`.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.of("/").fetch_sockets().await
    }

    /// Makes every socket of `/` join rooms, on every node.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> crate::adapter::JoinFuture {
        self.of("/").sockets_join(rooms)
    }

    /// Makes every socket of `/` leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.of("/").sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self, close: bool) {
        self.of("/").disconnect_sockets(close)
    }

    /// How many connections (Engine.IO sessions) are open.
    pub fn client_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Starts a graceful shutdown (a rolling deploy): new connections are
    /// sent to another live node of the cluster (refused with 503 without
    /// one), and every connection is closed with "server shutting down":
    /// the clients reconnect, elsewhere, and with connection state recovery
    /// get their sessions back. Follow with [`SocketIo::close`] once
    /// [`SocketIo::drained`].
    pub fn drain(&self) {
        self.engine.drain();
    }

    /// Whether a drain started.
    pub fn is_draining(&self) -> bool {
        self.engine.is_draining()
    }

    /// Whether a drain is complete: no connection is left (polling clients
    /// collected their close packet) and no session kept in this node's
    /// memory for recovery waits for its client.
    pub fn drained(&self) -> bool {
        self.engine.session_count() == 0
            && self
                .namespaces()
                .iter()
                .all(|ns| ns.adapter().kept_sessions() == 0)
    }

    /// Shuts down: every socket disconnects with "server shutting down",
    /// every connection closes, every adapter leaves its cluster.
    pub async fn close(&self) {
        self.engine.close_all(CloseReason::ServerShuttingDown);
        for ns in self.namespaces() {
            ns.adapter().close().await;
        }
    }
}
