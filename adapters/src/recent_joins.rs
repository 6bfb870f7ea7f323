//! Where an emitter's broadcast goes: a room's channel, unless the emitter
//! just asked every node to join that room.
//!
//! Nodes subscribe to a room's channel when a request makes their sockets
//! join it. A node's own `sockets_join` waits for every node to confirm
//! (see the adapter's `rooms` module); an emitter, which hears no answers,
//! cannot. So for [`JOIN_SETTLE`] after an emitter asked every node to join
//! a room, its broadcasts to that room go on the namespace channel, where
//! they arrive after the request, in order.

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
