//! `LocalAdapter`: the room index of one namespace on this node, and the
//! local half of every adapter operation.

use super::ack::{AckCollector, AckEvent, BroadcastAckFuture};
use super::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, JoinFuture, Partial, Room, ServerSideAck,
    SocketInfo,
};
use crate::namespace::{Namespace, WeakNamespace};
use crate::observe::Observer;
use crate::presence::{PresenceEvent, PresenceTable};
use crate::protocol::{Encoded, Packet, PacketKind};
use crate::recovery::{LoggedPacket, RecoveryConfig, RecoveryLog, SessionState, Unrecoverable};
use crate::sid::Sid;
use crate::socket::{AckSink, Socket};
use crate::value::Value;
use parking_lot::RwLock;
use smol_str::SmolStr;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Default)]
struct Rooms {
    members: HashMap<Room, HashSet<Sid>>,
    of_socket: HashMap<Sid, HashSet<Room>>,
}

/// Rooms and delivery for the sockets of one namespace on this node.
pub struct LocalAdapter {
    ns: WeakNamespace,
    rooms: RwLock<Rooms>,
    /// Sessions and packets kept for connection state recovery.
    log: RecoveryLog,
    /// Users online; this node is `""`, a cluster adapter adds the others.
    presence: PresenceTable,
}

impl LocalAdapter {
    /// The local adapter of a namespace.
    pub fn new(ns: WeakNamespace) -> Self {
        LocalAdapter {
            ns,
            rooms: RwLock::new(Rooms::default()),
            log: RecoveryLog::default(),
            presence: PresenceTable::default(),
        }
    }

    /// Calls `f` for each local socket the options target (read locks are
    /// held: `f` must not change rooms).
    fn for_each_target(&self, opts: &BroadcastOptions, mut f: impl FnMut(&Socket)) {
        let Some(ns) = self.ns.upgrade() else { return };
        let rooms = self.rooms.read();
        let except: HashSet<&Sid> = opts
            .except
            .iter()
            .filter_map(|r| rooms.members.get(r))
            .flat_map(|members| members.iter())
            .collect();
        let sockets = ns.sockets_read();
        let mut visit = |sid: &Sid| {
            if !except.contains(sid)
                && let Some(socket) = sockets.get(sid)
            {
                f(socket);
            }
        };
        match opts.rooms.as_slice() {
            [] => rooms.of_socket.keys().for_each(&mut visit),
            [room] => rooms
                .members
                .get(room)
                .into_iter()
                .flatten()
                .for_each(&mut visit),
            many => {
                let mut seen = HashSet::new();
                for sid in many.iter().filter_map(|r| rooms.members.get(r)).flatten() {
                    if seen.insert(sid) {
                        visit(sid);
                    }
                }
            }
        }
    }

    /// The local sockets the options target.
    pub fn targets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let mut out = Vec::new();
        self.for_each_target(opts, |s| out.push(s.clone()));
        out
    }

    /// Sends a packet that expects acknowledgements to the local targets;
    /// each answer goes to `sink`. Returns how many clients were sent it.
    pub fn broadcast_with_ack_to(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
        sink: &mpsc::UnboundedSender<AckEvent>,
    ) -> usize {
        let Some(ns) = self.ns.upgrade() else {
            return 0;
        };
        let since = std::time::Instant::now();
        let id = ns.next_ack_id();
        if let PacketKind::Event { ack, .. } = &mut packet.kind {
            *ack = Some(id);
        }
        packet.ns = ns.name().clone();
        let Some(encoded) = encode(&ns, &packet, opts) else {
            return 0;
        };
        let mut count = 0;
        self.for_each_target(opts, |socket| {
            socket.register_ack(id, AckSink::Broadcast(sink.clone()));
            if socket.deliver(&encoded, opts.flags.volatile, &packet, since) {
                count += 1;
            }
        });
        count
    }

    /// The presence table (this node is `""`).
    pub fn presence_table(&self) -> &PresenceTable {
        &self.presence
    }

    /// Tells the namespace's presence handlers about transitions.
    pub fn announce(&self, events: Vec<PresenceEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(ns) = self.ns.upgrade() {
            for event in events {
                ns.dispatch_presence(event);
            }
        }
    }

    /// Counts a local session of `user`; returns this node's new count of it.
    pub fn presence_local(&self, user: &SmolStr, joined: bool) -> usize {
        let (count, event) = self.presence.change("", user, joined);
        self.announce(event.into_iter().collect());
        count
    }

    /// The sessions and packets this node keeps for recovery.
    pub fn recovery_log(&self) -> &RecoveryLog {
        &self.log
    }

    /// Whether a room has members on this node.
    pub fn has_room(&self, room: &Room) -> bool {
        self.rooms.read().members.contains_key(room)
    }

    /// Describes the local targets.
    pub fn fetch_local(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.targets(opts).iter().map(Socket::info).collect()
    }
}

impl LocalAdapter {
    /// Adds a socket to rooms; returns the rooms that had no local member
    /// before (a cluster adapter subscribes to them).
    pub fn add_all_tracked(&self, sid: &Sid, rooms: &[Room]) -> Vec<Room> {
        let observer = self.observer();
        let mut joined = Vec::new();
        let mut created = Vec::new();
        {
            let mut index = self.rooms.write();
            let Rooms { members, of_socket } = &mut *index;
            let own = of_socket.entry(sid.clone()).or_default();
            for room in rooms {
                if own.insert(room.clone()) && observer.is_some() {
                    joined.push(room.clone());
                }
                let room_members = members.entry(room.clone()).or_insert_with(|| {
                    created.push(room.clone());
                    HashSet::new()
                });
                room_members.insert(sid.clone());
            }
        }
        if let Some((ns, observer)) = observer {
            for room in &joined {
                observer.room_joined(&ns, room, sid);
            }
        }
        created
    }

    /// The namespace's name and the server's observer, when there is one.
    fn observer(&self) -> Option<(SmolStr, Arc<dyn Observer>)> {
        let ns = self.ns.upgrade()?;
        let observer = ns.observer()?.clone();
        Some((ns.name().clone(), observer))
    }

    /// Removes a socket from a room; returns whether the room is now empty
    /// on this node (and was not before).
    pub fn del_tracked(&self, sid: &Sid, room: &Room) -> bool {
        let (left, emptied) = {
            let mut index = self.rooms.write();
            let left = index
                .of_socket
                .get_mut(sid)
                .is_some_and(|own| own.remove(room));
            let emptied = match index.members.get_mut(room) {
                Some(members) => members.remove(sid) && members.is_empty(),
                None => false,
            };
            if emptied {
                index.members.remove(room);
            }
            (left, emptied)
        };
        if left && let Some((ns, observer)) = self.observer() {
            observer.room_left(&ns, room, sid);
        }
        emptied
    }

    /// Removes a socket from every room; returns the rooms left empty.
    pub fn del_all_tracked(&self, sid: &Sid) -> Vec<Room> {
        let mut deleted = Vec::new();
        let own = {
            let mut index = self.rooms.write();
            let Some(own) = index.of_socket.remove(sid) else {
                return Vec::new();
            };
            for room in &own {
                if let Some(members) = index.members.get_mut(room) {
                    members.remove(sid);
                    if members.is_empty() {
                        index.members.remove(room);
                        deleted.push(room.clone());
                    }
                }
            }
            own
        };
        if let Some((ns, observer)) = self.observer() {
            for room in &own {
                observer.room_left(&ns, room, sid);
            }
        }
        deleted
    }
}

impl Adapter for LocalAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) -> JoinFuture {
        self.add_all_tracked(sid, rooms);
        JoinFuture::ready()
    }

    fn del(&self, sid: &Sid, room: &Room) {
        self.del_tracked(sid, room);
    }

    fn del_all(&self, sid: &Sid) {
        self.del_all_tracked(sid);
    }

    fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
        self.rooms
            .read()
            .of_socket
            .get(sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn rooms(&self) -> Vec<Room> {
        self.rooms.read().members.keys().cloned().collect()
    }

    fn broadcast(&self, mut packet: Packet, opts: &BroadcastOptions) {
        let since = std::time::Instant::now();
        let Some(ns) = self.ns.upgrade() else { return };
        packet.ns = ns.name().clone();
        // Encoded once; every recipient gets the same shared bytes.
        let Some(encoded) = encode(&ns, &packet, opts) else {
            return;
        };
        crate::metrics::HOT.broadcasts.increment(1);
        self.for_each_target(opts, |socket| {
            socket.deliver(&encoded, opts.flags.volatile, &packet, since);
        });
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BroadcastAckFuture {
        let (collector, sink) = AckCollector::new(1);
        let count = self.broadcast_with_ack_to(packet, opts, &sink);
        let _ = sink.send(AckEvent::ClientCount(count));
        drop(sink);
        Box::pin(collector.collect(timeout))
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Partial<Vec<SocketInfo>>, AdapterError>> {
        let items = self.fetch_local(opts);
        Box::pin(async move { Ok(Partial { items, missing: 0 }) })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> JoinFuture {
        let mut all = JoinFuture::ready();
        for socket in self.targets(opts) {
            // A refusal by a socket's limits is counted and logged by `join`;
            // the others still join.
            let joined = socket.join(rooms.to_vec());
            if joined.is_applied() {
                all = all.and(joined);
            }
        }
        all
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(opts) {
            for room in rooms {
                socket.leave(room.clone());
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.targets(opts) {
            socket.disconnect(close);
        }
    }

    fn server_side_emit(
        &self,
        _event: &str,
        _args: Vec<Value>,
        _ack_timeout: Option<Duration>,
    ) -> BoxFuture<Result<Partial<Vec<ServerSideAck>>, AdapterError>> {
        // A single node has no other servers to tell.
        Box::pin(async {
            Ok(Partial {
                items: Vec::new(),
                missing: 0,
            })
        })
    }

    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(async { 1 })
    }

    fn presence_change(&self, user: &SmolStr, joined: bool) {
        self.presence_local(user, joined);
    }

    fn presence(&self) -> Option<&PresenceTable> {
        Some(&self.presence)
    }

    fn broadcast_recoverable(&self, packet: Packet, opts: &BroadcastOptions, offset: SmolStr) {
        let keep = self
            .ns
            .upgrade()
            .and_then(|ns| ns.recovery())
            .map(|r| r.max_disconnection_duration);
        if let Some(keep) = keep {
            let logged = LoggedPacket {
                offset,
                packet: packet.clone(),
                opts: opts.clone(),
            };
            self.log.record(logged, keep);
        }
        self.broadcast(packet, opts);
    }

    fn persist_session(&self, session: SessionState, keep: Duration) {
        self.log.persist(session, keep);
    }

    fn held(&self, keep: Duration) -> super::AdapterHeld {
        super::AdapterHeld {
            recovery_entries: self.log.entries(keep),
            pending_requests: 0,
        }
    }

    fn take_session(&self, pid: Sid, recovery: RecoveryConfig) -> BoxFuture<Option<SessionState>> {
        let session = self.log.take(&pid, recovery.max_disconnection_duration);
        Box::pin(async move { session })
    }

    fn evict_session(&self, pid: Sid) -> BoxFuture<bool> {
        let evicted = self.ns.upgrade().is_some_and(|ns| ns.evict(&pid));
        Box::pin(async move { evicted })
    }

    fn missed_packets(
        &self,
        _pid: Sid,
        offset: SmolStr,
        rooms: Vec<Room>,
        recovery: RecoveryConfig,
    ) -> BoxFuture<Result<Vec<Packet>, Unrecoverable>> {
        let missed = self.log.missed(
            &offset,
            &rooms,
            recovery.max_disconnection_duration,
            recovery.max_replay_bytes,
        );
        Box::pin(async move { missed })
    }

    fn close(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }
}

/// A broadcast's packet, encoded once for all its recipients, and marked
/// never to be compressed with `compress(false)`.
fn encode(ns: &Namespace, packet: &Packet, opts: &BroadcastOptions) -> Option<Encoded> {
    let encoded = ns.encode(packet)?;
    Some(match opts.flags.compress {
        Some(false) => encoded.plain(),
        _ => encoded,
    })
}
