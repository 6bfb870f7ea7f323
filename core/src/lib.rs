//! Switchyard core: an Engine.IO v4 and Socket.IO v5 server.
//!
//! This crate is a complete single-node server: transports (HTTP
//! long-polling and WebSocket, with upgrade), both wire formats (JSON with
//! binary attachments, and MessagePack), namespaces (static and dynamic),
//! middlewares, acknowledgements, rooms and broadcast operators, and the
//! [`Adapter`] trait with its in-memory [`LocalAdapter`]. It is not a
//! cluster: `switchyard-cluster` implements `Adapter` over a message broker.
//!
//! ```no_run
//! use switchyard_core::{Event, Socket, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::default();
//! io.on_connection(|socket: Socket| async move {
//!     socket.on("chat", |socket: Socket, event: Event| async move {
//!         let room: String = event.arg(0).unwrap_or_default();
//!         let _ = socket.to(room).emit_args("chat", event.args.clone());
//!     });
//! });
//! io.listen("127.0.0.1:3000").await?.wait().await;
//! # Ok(())
//! # }
//! ```
//!
//! # One request's path, and who owns what
//!
//! ```text
//! listen / tower Service ─► engine: Engine.IO sessions (engine/)
//!    polling GET/POST, WebSocket (engine/ws/), upgrade; heartbeat;
//!    Session: the client's one bounded outgoing queue, or a direct write
//!    ▼ Message
//! client/ (the EngineHandler): Socket.IO packets (protocol/), CONNECT into
//!    a namespace
//!    ▼
//! namespace/ ─► middlewares ─► socket/ ─► handlers (handler.rs: Event, Ack)
//!    ▼ broadcast, rooms                      │ emit, ack
//! operator.rs (to/except/…) ─► Adapter trait │
//!    ▼                                       ▼
//! adapter/: LocalAdapter over RoomIndex ─► Member handles ─► socket::Connection
//!    (or a cluster adapter wrapping it)                       (the Session)
//! ```
//!
//! - `vocab.rs` is the bottom: the types every layer names (`Room`,
//!   `BroadcastOptions`, `SocketInfo`, `EmitError`, `BoxFuture`).
//! - A socket's life is `socket/lifecycle.rs`; it reaches its connection
//!   only through `socket::Connection`, which the client layer implements
//!   over the engine `Session`.
//! - The room index (`adapter/index.rs`) holds a handle per socket and
//!   encodes each broadcast once with the namespace's parser; a broadcast
//!   takes its read lock only to collect the recipients, then delivers
//!   with no lock held. `LocalAdapter` tells its namespace what it must
//!   know through `adapter::NamespaceHooks`, never by reaching into it.
//! - Delivery (`Session::push`): when the client's queue is empty and its
//!   WebSocket (plain TCP) is not being written, the producing task (the
//!   broadcast, the emit, the ack) writes the frame itself, without waking
//!   the connection's task; what the socket does not take, and everything
//!   while it is busy, goes through the queue to the connection's task
//!   (`engine/ws/direct.rs`).

pub mod adapter;
mod client;
pub mod engine;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handler;
mod handshake;
mod inline;
pub mod limits;
mod listen;
pub mod metrics;
mod namespace;
pub mod observe;
mod operator;
pub mod presence;
pub mod protocol;
pub mod recovery;
mod server;
mod service;
mod sid;
mod slot;
mod socket;
mod timer;
#[cfg(feature = "tls")]
pub mod tls;
pub mod value;
mod vocab;

pub use adapter::JoinError;
pub use adapter::{
    Adapter, AdapterFactory, AdapterHeld, BroadcastFlags, BroadcastOptions, JoinFuture,
    LocalAdapter, Room, SocketInfo,
};
pub use engine::{
    CorsConfig, EngineConfig, HttpCompression, HttpLimits, PerMessageDeflate, RemoteAddr,
    Transports,
};
pub use handler::{Ack, Event};
pub use handler::{
    ConnectError, ConnectHandler, DisconnectHandler, EventHandler, Middleware, ServerEventHandler,
};
pub use handshake::Handshake;
#[cfg(feature = "tls")]
pub use listen::serve_tls;
pub use listen::{Listening, connection_limit, serve, serve_with};
pub use namespace::dynamic::DynamicNamespace;
pub use namespace::{Namespace, NamespaceStats, WeakNamespace};
pub use observe::Observer;
pub use operator::{BroadcastOperator, IntoRooms, RemoteSocket};
pub use presence::{PresenceEvent, PresenceHandler};
pub use protocol::Parser;
pub use recovery::RecoveryConfig;
pub use server::{ServerConfig, ServerStats, SocketIo, WeakSocketIo};
pub use service::{NotFound, SocketIoLayer, SocketIoService};
pub use sid::Sid;
pub use slot::ConnectionSlot;
pub use socket::emit::SocketEmitter;
pub use socket::reason::DisconnectReason;
pub use socket::{AckError, AckFuture, Socket};
pub use value::{Value, from_value, to_value};
pub use vocab::EmitError;
pub use vocab::ServerAck;
