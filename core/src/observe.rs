//! `Observer`: a tool watching what happens on a server — connections,
//! sockets, rooms and events — such as the Socket.IO Admin UI. A server has
//! at most one ([`SocketIo::observe`](crate::SocketIo::observe)); without
//! one, each hook costs a branch.
//!
//! Hooks run inline, on the task that caused them and sometimes under the
//! namespace's locks: an observer must return quickly and must not call
//! back into the namespace it hears about synchronously (emitting to
//! another namespace, or spawning a task, is fine).

use crate::adapter::Room;
use crate::engine::{CloseReason, TransportKind};
use crate::protocol::Packet;
use crate::sid::Sid;
use crate::socket::{DisconnectReason, Socket};
use crate::value::Value;
use smol_str::SmolStr;

/// What a server tells its observer. Every method does nothing by default.
#[allow(unused_variables)]
pub trait Observer: Send + Sync + 'static {
    /// An Engine.IO session opened over `transport`.
    fn session_opened(&self, transport: TransportKind) {}

    /// An Engine.IO session closed.
    fn session_closed(&self, reason: CloseReason) {}

    /// A socket connected to its namespace (before the connection
    /// handlers run).
    fn socket_connected(&self, socket: &Socket) {}

    /// The connection of a socket moved to WebSocket.
    fn socket_upgraded(&self, socket: &Socket) {}

    /// A socket left its namespace (before the disconnect handlers run).
    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {}

    /// A socket of this node joined a room it was not in.
    fn room_joined(&self, ns: &SmolStr, room: &Room, sid: &Sid) {}

    /// A socket of this node left a room.
    fn room_left(&self, ns: &SmolStr, room: &Room, sid: &Sid) {}

    /// A socket sent an event.
    fn event_received(&self, socket: &Socket, event: &str, args: &[Value]) {}

    /// An event was queued for a socket: emitted to it, or broadcast.
    fn event_sent(&self, socket: &Socket, packet: &Packet) {}
}
