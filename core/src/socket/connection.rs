//! `Connection`: what a socket needs of the client connection it lives on.
//! The client layer implements it; the socket layer depends on nothing
//! above it.

use crate::engine::{CloseReason, Frame, Protocol, Push, RequestInfo, TransportKind};
use crate::sid::Sid;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Instant;

/// The client connection a socket lives on, shared by its sockets in every
/// namespace.
pub(crate) trait Connection: Send + Sync + 'static {
    /// The Engine.IO session id (secret).
    fn sid(&self) -> &Sid;

    /// The Engine.IO protocol the client speaks.
    fn protocol(&self) -> Protocol;

    /// The HTTP request that opened the connection.
    fn request(&self) -> &Arc<RequestInfo>;

    /// The transport the connection currently uses.
    fn transport(&self) -> TransportKind;

    /// Queues frames for the client; `since` is when a broadcast's wait began.
    fn push(&self, frames: &[Frame], volatile: bool, since: Option<Instant>) -> Push;

    /// How many bytes may wait for the client before it is disconnected.
    fn buffer_budget(&self) -> usize;

    /// Closes the connection.
    fn close(&self, reason: CloseReason);

    /// `socket.disconnect(true)`: every namespace disconnects, then the
    /// connection closes.
    fn disconnect_all(&self);

    /// Forgets the socket of namespace `ns`, which left.
    fn forget_socket(&self, ns: &SmolStr);
}
