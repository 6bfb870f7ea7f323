//! `ServerConfig`: a server's settings, with Node.js Socket.IO's defaults;
//! and `ServerStats`, its counters.

use crate::adapter::{AdapterFactory, LocalAdapterFactory};
use crate::engine::{CorsConfig, EngineConfig, SessionRouter, Transports};
use crate::limits::ClientLimits;
use crate::protocol::Parser;
use crate::recovery::RecoveryConfig;
use std::sync::Arc;
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
    /// Of the packets sent, those the producing task (a broadcast, an emit)
    /// wrote to a WebSocket itself, without queueing them for the
    /// connection's task.
    pub packets_written_directly: u64,
}
