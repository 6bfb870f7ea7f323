//! What the room index holds and calls: [`Member`], a local socket as
//! delivery sees it, and [`NamespaceHooks`], the few things the index tells
//! its namespace. Both are traits so that the index (and every adapter
//! above it) depends on neither `Socket` nor `Namespace`.

use super::ack::AckEvent;
use super::join::JoinFuture;
use crate::presence::PresenceEvent;
use crate::protocol::{Encoded, Packet};
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::{Room, ServerAck, SocketInfo};
use std::any::Any;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// A local socket, as the room index holds it.
pub trait Member: Any + Send + Sync {
    /// Delivers a broadcast packet, encoded once for every recipient;
    /// `since` is when the broadcast was emitted here. `false` if it was not
    /// delivered (volatile and not ready, or gone).
    fn deliver(&self, encoded: &Encoded, volatile: bool, packet: &Packet, since: Instant) -> bool;

    /// Sends the acknowledgement with `id` this socket gives to `sink`.
    fn expect_ack(&self, id: u64, sink: mpsc::UnboundedSender<AckEvent>);

    /// What `fetch_sockets` reports about the socket.
    fn info(&self) -> SocketInfo;

    /// Joins rooms, within the socket's limits.
    fn join(&self, rooms: Vec<Room>) -> JoinFuture;

    /// Leaves a room.
    fn leave(&self, room: Room);

    /// Disconnects the socket; `close` closes its whole connection.
    fn disconnect(&self, close: bool);
}

/// A shared handle to a local socket.
pub type MemberHandle = Arc<dyn Member>;

/// What the room index tells its namespace: room changes (for observers),
/// presence transitions, server-side events from other nodes, and
/// evictions of a returning client's old socket.
pub trait NamespaceHooks: Send + Sync {
    /// Whether anyone listens to [`NamespaceHooks::room_changed`] (the index
    /// skips collecting the changes when no one does).
    fn watches_rooms(&self) -> bool;

    /// A socket joined (`joined`) or left a room.
    fn room_changed(&self, room: &Room, sid: &Sid, joined: bool);

    /// A user came online or went offline.
    fn presence_changed(&self, event: PresenceEvent);

    /// Runs the handler of a server-side event another node sent; `false`
    /// if there is none.
    fn server_event(&self, event: &str, args: Vec<Value>, ack: Option<ServerAck>) -> bool;

    /// Closes the connection of the socket with private session id `pid`, if
    /// it is still connected here; returns whether there was one.
    fn evict(&self, pid: &str) -> bool;
}
