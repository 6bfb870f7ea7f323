//! A socket's rooms, and broadcasting from it to others.

use super::{CLOSED, Socket};
use crate::adapter::{JoinError, JoinFuture};
use crate::limits::Refused;
use crate::operator::{BroadcastOperator, IntoRooms};
use crate::vocab::Room;
use std::sync::atomic::Ordering;

impl Socket {
    /// Joins rooms, at once on this node. A middleware may join rooms before
    /// the socket connects (they are left again if the connection is refused).
    ///
    /// The returned [`JoinFuture`] resolves once the join takes effect
    /// cluster-wide: await it before telling anyone "joined" when a
    /// broadcast from another node must not miss the socket. It resolves at
    /// once with a refusal, and nothing joined, when a room name is longer
    /// than `max_room_name_bytes` or the socket would be in more than
    /// `max_rooms_per_socket` rooms ([`ClientLimits`](crate::limits::ClientLimits)).
    /// A closed socket joins nothing (a handler may outlive it).
    pub fn join(&self, rooms: impl IntoRooms) -> JoinFuture {
        if self.0.state.load(Ordering::Acquire) == CLOSED {
            return JoinFuture::ready();
        }
        let rooms = rooms.into_rooms();
        let limits = self.0.ns.limits();
        if let Some(long) = rooms.iter().find(|r| r.len() > limits.max_room_name_bytes) {
            crate::refused!(Refused::RoomName, sid = %self.0.id, ns = %self.0.ns.name(), bytes = long.len(), "room name too long: join refused");
            return JoinFuture::refused(JoinError::NameTooLong(limits.max_room_name_bytes));
        }
        let adapter = self.0.ns.adapter();
        let current = adapter.socket_rooms(&self.0.id);
        let mut added = 0;
        for (i, room) in rooms.iter().enumerate() {
            if !current.contains(room) && !rooms[..i].contains(room) {
                added += 1;
            }
        }
        if current.len() + added > limits.max_rooms_per_socket {
            crate::refused!(Refused::Rooms, sid = %self.0.id, ns = %self.0.ns.name(), rooms = current.len(), max = limits.max_rooms_per_socket, "too many rooms: join refused");
            return JoinFuture::refused(JoinError::TooManyRooms(limits.max_rooms_per_socket));
        }
        adapter.add_all(&self.0.id, &rooms)
    }

    /// Leaves a room.
    pub fn leave(&self, room: impl Into<Room>) {
        self.0.ns.adapter().del(&self.0.id, &room.into());
    }

    /// The rooms the socket is in (its own included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter().socket_rooms(&self.0.id)
    }

    /// Targets the members of rooms, except this socket.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace except this one and the
    /// members of `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.0.ns.broadcast().except(self.0.id.clone())
    }

    /// Targets every other socket of the namespace on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }
}
