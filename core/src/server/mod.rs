//! `SocketIo`: the server — its namespaces, its engine, and draining.
//! Its settings are in `config`, the state its sessions share in `state`,
//! and its shortcuts to the main namespace in `broadcast`.

mod broadcast;
mod config;
pub(crate) mod state;

pub use config::{ServerConfig, ServerStats};

use crate::client::ClientSession;
use crate::engine::{CloseReason, Engine, EngineConfig};
use crate::handler::{ConnectHandler, Middleware};
use crate::namespace::dynamic::{DynamicNamespace, Matcher};
use crate::namespace::{Namespace, NamespaceConfig, NamespaceHandlers};
use crate::timer::FifoTimer;
use crate::value::Value;
use parking_lot::RwLock;
use smol_str::SmolStr;
use state::ServerState;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

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
            packets_written_directly: self.engine.written_directly(),
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
