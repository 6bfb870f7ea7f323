//! `RoomIndex`: which local sockets are in which rooms, holding a handle to
//! each socket so that a broadcast reaches its recipients without looking
//! them up anywhere else.

use super::member::MemberHandle;
use crate::sid::Sid;
use crate::vocab::{BroadcastOptions, Room};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One socket of the index: its handle once it is connected here (a
/// middleware may make it join rooms before), and its rooms.
#[derive(Default)]
struct Entry {
    member: Option<MemberHandle>,
    rooms: RoomSet,
}

/// The rooms of one namespace's local sockets. Not locked itself: the
/// [`LocalAdapter`](super::LocalAdapter) holds it behind a read-write lock.
#[derive(Default)]
pub(super) struct RoomIndex {
    sockets: HashMap<Sid, Entry>,
    /// Each room's members, with their handles (`None` until connected).
    rooms: HashMap<Room, Members>,
}

/// A socket's rooms: a short list while it is in a few (every socket is in
/// its own room, most in a handful more), a set past that.
enum RoomSet {
    Few(Vec<Room>),
    /// Boxed: rare, and the box keeps every socket's entry small.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<Room>>),
}

/// Rooms a socket may be in before its list becomes a set.
const FEW_ROOMS: usize = 8;

impl Default for RoomSet {
    fn default() -> Self {
        RoomSet::Few(Vec::new())
    }
}

impl RoomSet {
    /// Adds a room; returns whether it was not there.
    fn insert(&mut self, room: &Room) -> bool {
        match self {
            RoomSet::Few(list) if list.contains(room) => false,
            RoomSet::Few(list) if list.len() < FEW_ROOMS => {
                // Exact growth: most sockets stay in one room or two.
                list.reserve_exact(1);
                list.push(room.clone());
                true
            }
            RoomSet::Few(list) => {
                let mut set: HashSet<Room> = list.drain(..).collect();
                set.insert(room.clone());
                *self = RoomSet::Many(Box::new(set));
                true
            }
            RoomSet::Many(set) => set.insert(room.clone()),
        }
    }

    /// Removes a room; returns whether it was there.
    fn remove(&mut self, room: &Room) -> bool {
        match self {
            RoomSet::Few(list) => match list.iter().position(|r| r == room) {
                Some(at) => {
                    list.swap_remove(at);
                    true
                }
                None => false,
            },
            RoomSet::Many(set) => set.remove(room),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            RoomSet::Few(list) => list.is_empty(),
            RoomSet::Many(set) => set.is_empty(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Room> {
        let (few, many) = match self {
            RoomSet::Few(list) => (Some(list.iter()), None),
            RoomSet::Many(set) => (None, Some(set.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    fn into_set(self) -> HashSet<Room> {
        match self {
            RoomSet::Few(list) => list.into_iter().collect(),
            RoomSet::Many(set) => *set,
        }
    }
}

/// A room's members with their handles: one inline (every socket's own
/// room has one member), a map when more.
enum Members {
    One(Sid, Option<MemberHandle>),
    /// Any number, none included (an empty map allocates nothing).
    Many(HashMap<Sid, Option<MemberHandle>>),
}

impl Members {
    fn get_mut(&mut self, sid: &Sid) -> Option<&mut Option<MemberHandle>> {
        match self {
            Members::One(one, member) => (one == sid).then_some(member),
            Members::Many(map) => map.get_mut(sid),
        }
    }

    fn insert(&mut self, sid: &Sid, member: Option<MemberHandle>) {
        match self {
            Members::One(one, slot) if one == sid => *slot = member,
            Members::One(..) => {
                let mut map = HashMap::with_capacity(2);
                if let Members::One(one, slot) =
                    std::mem::replace(self, Members::Many(HashMap::new()))
                {
                    map.insert(one, slot);
                }
                map.insert(sid.clone(), member);
                *self = Members::Many(map);
            }
            Members::Many(map) if map.is_empty() => *self = Members::One(sid.clone(), member),
            Members::Many(map) => {
                map.insert(sid.clone(), member);
            }
        }
    }

    /// Removes a member; returns whether it was there.
    fn remove(&mut self, sid: &Sid) -> bool {
        match self {
            Members::One(one, _) if one == sid => {
                *self = Members::Many(HashMap::new());
                true
            }
            Members::One(..) => false,
            Members::Many(map) => map.remove(sid).is_some(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Members::Many(map) if map.is_empty())
    }

    fn len(&self) -> usize {
        match self {
            Members::One(..) => 1,
            Members::Many(map) => map.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Sid, &Option<MemberHandle>)> {
        let (one, many) = match self {
            Members::One(sid, member) => (Some((sid, member)), None),
            Members::Many(map) => (None, Some(map.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl RoomIndex {
    /// A socket is connected here: it receives what its rooms receive.
    pub fn insert(&mut self, sid: &Sid, member: MemberHandle) {
        let entry = self.sockets.entry(sid.clone()).or_default();
        for room in entry.rooms.iter() {
            if let Some(slot) = self.rooms.get_mut(room).and_then(|m| m.get_mut(sid)) {
                *slot = Some(member.clone());
            }
        }
        entry.member = Some(member);
    }

    /// Forgets the handle of `sid` if it is `member` (a socket that failed
    /// must not remove one that took its id meanwhile).
    pub fn remove(&mut self, sid: &Sid, member: &MemberHandle) {
        let Some(entry) = self.sockets.get_mut(sid) else {
            return;
        };
        if !entry
            .member
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, member))
        {
            return;
        }
        entry.member = None;
        for room in entry.rooms.iter() {
            if let Some(slot) = self.rooms.get_mut(room).and_then(|m| m.get_mut(sid)) {
                *slot = None;
            }
        }
        if entry.rooms.is_empty() {
            self.sockets.remove(sid);
        }
    }

    /// The handle of a connected socket.
    pub fn member(&self, sid: &str) -> Option<&MemberHandle> {
        self.sockets.get(sid)?.member.as_ref()
    }

    /// Every connected socket.
    pub fn members(&self) -> impl Iterator<Item = &MemberHandle> {
        self.sockets.values().filter_map(|e| e.member.as_ref())
    }

    /// Adds a socket to rooms; returns the rooms it newly joined and the
    /// rooms that had no member before.
    pub fn add(&mut self, sid: &Sid, rooms: &[Room]) -> (Vec<Room>, Vec<Room>) {
        let entry = self.sockets.entry(sid.clone()).or_default();
        let mut joined = Vec::new();
        let mut created = Vec::new();
        for room in rooms {
            if entry.rooms.insert(room) {
                joined.push(room.clone());
            }
            let members = self.rooms.entry(room.clone()).or_insert_with(|| {
                created.push(room.clone());
                Members::Many(HashMap::new())
            });
            members.insert(sid, entry.member.clone());
        }
        (joined, created)
    }

    /// Removes a socket from a room; returns whether it was in it and
    /// whether the room is now empty.
    pub fn del(&mut self, sid: &Sid, room: &Room) -> (bool, bool) {
        let left = self
            .sockets
            .get_mut(sid)
            .is_some_and(|entry| entry.rooms.remove(room));
        let emptied = match self.rooms.get_mut(room) {
            Some(members) => members.remove(sid) && members.is_empty(),
            None => false,
        };
        if emptied {
            self.rooms.remove(room);
        }
        (left, emptied)
    }

    /// Removes a socket from every room; returns the rooms it was in and
    /// those left empty.
    pub fn del_all(&mut self, sid: &Sid) -> (HashSet<Room>, Vec<Room>) {
        let own = match self.sockets.get_mut(sid) {
            Some(entry) if entry.member.is_some() => std::mem::take(&mut entry.rooms).into_set(),
            Some(_) => self
                .sockets
                .remove(sid)
                .map(|e| e.rooms.into_set())
                .unwrap_or_default(),
            None => return (HashSet::new(), Vec::new()),
        };
        let mut emptied = Vec::new();
        for room in &own {
            if let Some(members) = self.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    self.rooms.remove(room);
                    emptied.push(room.clone());
                }
            }
        }
        (own, emptied)
    }

    /// The rooms of a socket.
    pub fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
        self.sockets
            .get(sid)
            .map(|e| e.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every room with a member here.
    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.keys().cloned().collect()
    }

    /// Whether a room has members here.
    pub fn has_room(&self, room: &Room) -> bool {
        self.rooms.contains_key(room)
    }

    /// The handles of the connected sockets the options target, each once.
    /// The handles are cloned out so that delivery runs without the lock.
    pub fn targets(&self, opts: &BroadcastOptions) -> Vec<MemberHandle> {
        let mut out = Vec::with_capacity(self.target_hint(opts));
        self.visit_targets(opts, |_, member| out.push(member.clone()));
        out
    }

    /// The ids of the connected sockets the options target.
    pub fn target_ids(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let mut out = Vec::with_capacity(self.target_hint(opts));
        self.visit_targets(opts, |sid, _| out.push(sid.clone()));
        out
    }

    /// About how many sockets the options target.
    fn target_hint(&self, opts: &BroadcastOptions) -> usize {
        match opts.rooms.as_slice() {
            [] => self.sockets.len(),
            [room] => self.rooms.get(room).map_or(0, Members::len),
            _ => 0,
        }
    }

    /// Calls `f` once for each connected socket the options target.
    fn visit_targets(&self, opts: &BroadcastOptions, mut f: impl FnMut(&Sid, &MemberHandle)) {
        let except: HashSet<&Sid> = opts
            .except
            .iter()
            .filter_map(|r| self.rooms.get(r))
            .flat_map(|members| members.iter().map(|(sid, _)| sid))
            .collect();
        let mut visit = |sid: &Sid, member: Option<&MemberHandle>| {
            if let Some(member) = member
                && (except.is_empty() || !except.contains(sid))
            {
                f(sid, member);
            }
        };
        match opts.rooms.as_slice() {
            [] => {
                for (sid, entry) in &self.sockets {
                    if !entry.rooms.is_empty() {
                        visit(sid, entry.member.as_ref());
                    }
                }
            }
            [room] => {
                for (sid, member) in self.rooms.get(room).into_iter().flat_map(Members::iter) {
                    visit(sid, member.as_ref());
                }
            }
            many => {
                let mut seen = HashSet::new();
                for members in many.iter().filter_map(|r| self.rooms.get(r)) {
                    for (sid, member) in members.iter() {
                        if seen.insert(sid) {
                            visit(sid, member.as_ref());
                        }
                    }
                }
            }
        }
    }

    /// How many sockets are connected here.
    pub fn len(&self) -> usize {
        self.members().count()
    }
}

#[cfg(test)]
mod tests;
