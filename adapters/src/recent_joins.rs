//! Where a broadcast goes in a format whose servers never confirm a join
//! (Node's sharded Redis adapter): a room's channel, unless this node just
//! asked every server to join that room.
//!
//! Servers subscribe to a room's channel when a request makes their sockets
//! join it; nobody tells the requester when. So for [`JOIN_SETTLE`] after a
//! node asked every server to join a room, its broadcasts to that room go
//! on the namespace channel, where they arrive after the request, in order.
//! (Switchyard's own format needs none of this: nodes confirm joins, and
//! `sockets_join` — of a node or of an emitter — resolves once they did.)

use crate::format::Destination;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchyard_core::Room;

/// Long enough for a subscription to reach the broker on a loaded machine.
pub const JOIN_SETTLE: Duration = Duration::from_secs(2);

/// Rooms this node (or emitter) asked every node to join, with when.
#[derive(Debug, Default)]
pub struct RecentJoins(Mutex<HashMap<Room, Instant>>);

impl RecentJoins {
    /// Remembers rooms a request asks every node to join.
    pub fn joined(&self, rooms: &[Room]) {
        let mut recent = self.0.lock();
        recent.retain(|_, at| at.elapsed() < JOIN_SETTLE);
        let now = Instant::now();
        for room in rooms {
            recent.insert(room.clone(), now);
        }
    }

    /// Where a broadcast to `rooms` goes.
    pub fn destination<'a>(&self, rooms: &'a [Room]) -> Destination<'a> {
        match rooms {
            [room] if !self.settling(room) => Destination::Room(room),
            _ => Destination::Everyone,
        }
    }

    fn settling(&self, room: &Room) -> bool {
        let recent = self.0.lock();
        !recent.is_empty()
            && recent
                .get(room)
                .is_some_and(|at| at.elapsed() < JOIN_SETTLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_just_joined_is_broadcast_on_the_namespace_channel() {
        let recent = RecentJoins::default();
        let (a, b) = (Room::from("a"), Room::from("b"));
        assert!(
            matches!(recent.destination(std::slice::from_ref(&a)), Destination::Room(r) if *r == a)
        );
        recent.joined(std::slice::from_ref(&a));
        assert!(matches!(
            recent.destination(std::slice::from_ref(&a)),
            Destination::Everyone
        ));
        assert!(matches!(
            recent.destination(std::slice::from_ref(&b)),
            Destination::Room(_)
        ));
        assert!(matches!(recent.destination(&[a, b]), Destination::Everyone));
        assert!(matches!(recent.destination(&[]), Destination::Everyone));
    }
}
