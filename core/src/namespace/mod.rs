//! `Namespace`: a named channel of the server — what it is and holds: its
//! handlers, its adapter and the room index of its sockets on this node.
//!
//! Its behaviour is spread by concern: `broadcast` (operators and
//! cluster-wide actions), `presence`, `sockets` (its sockets on this node),
//! `hooks` (what its room index tells it) and `dynamic` (namespaces created
//! on demand).

mod broadcast;
pub(crate) mod dynamic;
mod hooks;
mod presence;
mod sockets;

use crate::adapter::{Adapter, AdapterFactory, LocalAdapter, NamespaceHooks};
use crate::handler::{ConnectHandler, Middleware, Observer, ServerEventHandler};
use crate::limits::ClientLimits;
use crate::presence::{PresenceGate, PresenceHandler};
use crate::protocol::{Encoded, Packet, Parser};
use crate::recovery::RecoveryConfig;
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::Value;
use crate::vocab::ServerAck;
use parking_lot::RwLock;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::fmt;
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
    pub observer: std::sync::OnceLock<Arc<dyn Observer>>,
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
    /// The room index of this node's sockets, which the adapter delivers
    /// through.
    local: Arc<LocalAdapter>,
    /// Sockets with a private session id (recovery on), by that id.
    by_pid: RwLock<HashMap<Sid, Socket>>,
    handlers: Arc<NamespaceHandlers>,
    server_events: RwLock<HashMap<String, Arc<dyn ServerEventHandler>>>,
    presence_handlers: RwLock<Vec<Arc<dyn PresenceHandler>>>,
    presence_gate: PresenceGate,
    config: Arc<NamespaceConfig>,
}

impl Namespace {
    pub(crate) fn new(
        name: SmolStr,
        config: Arc<NamespaceConfig>,
        handlers: Arc<NamespaceHandlers>,
    ) -> Namespace {
        Namespace(Arc::new_cyclic(|weak| {
            let hooks: Arc<dyn NamespaceHooks> = Arc::new(WeakNamespace(weak.clone()));
            let local = Arc::new(LocalAdapter::new(
                name.clone(),
                config.parser,
                config.recovery,
                hooks,
            ));
            NamespaceInner {
                adapter: config.adapter.create(local.clone()),
                local,
                name,
                by_pid: RwLock::new(HashMap::new()),
                handlers,
                server_events: RwLock::new(HashMap::new()),
                presence_handlers: RwLock::new(Vec::new()),
                presence_gate: PresenceGate::default(),
                config,
            }
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
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
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
        crate::inline::run(h.call(args, ack));
        true
    }

    /// A weak handle, for handlers the namespace itself holds (a strong
    /// one there would keep the namespace alive forever).
    pub fn downgrade(&self) -> WeakNamespace {
        WeakNamespace(Arc::downgrade(&self.0))
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
        self.0.local.encode(packet)
    }

    /// A fresh acknowledgement id (unique in the namespace, so one id can
    /// serve every recipient of a broadcast).
    pub fn next_ack_id(&self) -> u64 {
        self.0.local.next_ack_id()
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
