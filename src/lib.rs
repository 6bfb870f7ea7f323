//! Switchyard: a Socket.IO server that scales out.
//!
//! This facade re-exports the server API of `switchyard-core` — enough for
//! `use switchyard::prelude::*` — and holds the `switchyard` node binary's
//! behaviour in [`node`].
//!
//! ```no_run
//! use switchyard::prelude::*;
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::default();
//! io.on_connection(|socket: Socket| async move {
//!     socket.on("ping", |_: Socket, event: Event| async move {
//!         let _ = event.ack(&"pong");
//!     });
//! });
//! io.listen("127.0.0.1:3000").await?.wait().await;
//! # Ok(())
//! # }
//! ```

pub use switchyard_core::*;

pub mod admin;
pub mod node;

/// What most applications need.
pub mod prelude {
    pub use switchyard_core::{
        Ack, AckError, BroadcastOperator, ConnectError, DisconnectReason, EmitError, Event,
        Namespace, Parser, PresenceEvent, RecoveryConfig, RemoteSocket, ServerConfig, Socket,
        SocketIo, Value, from_value, object, to_value,
    };
}

/// The README's examples, compiled as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
