//! `LocalAdapter`: the local half of every adapter operation, over the
//! namespace's [`RoomIndex`](super::index::RoomIndex).
//!
//! A namespace makes its `LocalAdapter` and hands it to the
//! [`AdapterFactory`](crate::AdapterFactory): the single-node adapter is the
//! `LocalAdapter` itself; a cluster adapter delivers locally through it and
//! forwards to other nodes. Besides the [`Adapter`] trait, cluster adapters
//! use its building blocks: the `_tracked` membership changes (which say
//! which rooms appeared or emptied, to subscribe to them),
//! [`LocalAdapter::broadcast_with_ack_to`], [`LocalAdapter::fetch_local`],
//! [`LocalAdapter::has_room`], the presence table and the recovery log.

use super::ack::AckEvent;
use super::index::RoomIndex;
use super::member::{MemberHandle, NamespaceHooks};
use crate::presence::{PresenceEvent, PresenceTable};
use crate::protocol::{Encoded, Packet, PacketKind, Parser};
use crate::recovery::{RecoveryConfig, RecoveryLog};
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::{BroadcastOptions, Room, ServerAck, SocketInfo};
use parking_lot::RwLock;
use smol_str::SmolStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// Rooms and delivery for the sockets of one namespace on this node.
pub struct LocalAdapter {
    /// The namespace's name.
    name: SmolStr,
    /// Encodes each broadcast once for all its recipients.
    parser: Parser,
    recovery: Option<RecoveryConfig>,
    hooks: Arc<dyn NamespaceHooks>,
    ack_ids: AtomicU64,
    index: RwLock<RoomIndex>,
    /// Sessions and packets kept for connection state recovery.
    log: RecoveryLog,
    /// Users online; this node is `""`, a cluster adapter adds the others.
    presence: PresenceTable,
}

impl LocalAdapter {
    /// The room index of namespace `name`, whose packets `parser` encodes;
    /// `hooks` hears about room changes, presence and evictions.
    pub fn new(
        name: SmolStr,
        parser: Parser,
        recovery: Option<RecoveryConfig>,
        hooks: Arc<dyn NamespaceHooks>,
    ) -> Self {
        LocalAdapter {
            name,
            parser,
            recovery,
            hooks,
            ack_ids: AtomicU64::new(0),
            index: RwLock::new(RoomIndex::default()),
            log: RecoveryLog::default(),
            presence: PresenceTable::default(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &SmolStr {
        &self.name
    }

    /// A fresh acknowledgement id (unique in the namespace, so one id can
    /// serve every recipient of a broadcast).
    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The namespace's recovery settings, when recovery is on.
    pub fn recovery(&self) -> Option<RecoveryConfig> {
        self.recovery
    }

    /// Runs the namespace's handler of a server-side event another node
    /// sent; `false` if there is none.
    pub fn dispatch_server_event(
        &self,
        event: &str,
        args: Vec<Value>,
        ack: Option<ServerAck>,
    ) -> bool {
        self.hooks.server_event(event, args, ack)
    }

    /// Closes the connection of the local socket with private session id
    /// `pid` if it is still connected; returns whether there was one.
    pub fn evict(&self, pid: &str) -> bool {
        self.hooks.evict(pid)
    }

    /// Encodes a packet for this namespace's clients (logged if impossible).
    pub fn encode(&self, packet: &Packet) -> Option<Encoded> {
        match self.parser.encode(packet) {
            Ok(encoded) => Some(encoded),
            Err(e) => {
                tracing::error!(ns = %self.name, error = %e, "cannot encode packet");
                None
            }
        }
    }

    /// A socket connected here: broadcasts to its rooms reach it.
    pub(crate) fn insert_member(&self, sid: &Sid, member: MemberHandle) {
        self.index.write().insert(sid, member);
    }

    /// Forgets a socket's handle, if it is `member`.
    pub(crate) fn remove_member(&self, sid: &Sid, member: &MemberHandle) {
        self.index.write().remove(sid, member);
    }

    /// The handle of a socket connected here.
    pub(crate) fn member(&self, sid: &str) -> Option<MemberHandle> {
        self.index.read().member(sid).cloned()
    }

    /// The handles of every socket connected here.
    pub(crate) fn members(&self) -> Vec<MemberHandle> {
        self.index.read().members().cloned().collect()
    }

    /// How many sockets are connected here.
    pub(crate) fn member_count(&self) -> usize {
        self.index.read().len()
    }

    /// The local sockets the options target (the index's lock is released
    /// before anything is sent to them).
    fn targets(&self, opts: &BroadcastOptions) -> Vec<MemberHandle> {
        self.index.read().targets(opts)
    }

    /// The ids of the local sockets the options target.
    pub fn target_ids(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.index.read().target_ids(opts)
    }

    /// Sends a packet that expects acknowledgements to the local targets;
    /// each answer goes to `sink`. Returns how many clients were sent it.
    pub fn broadcast_with_ack_to(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
        sink: &mpsc::UnboundedSender<AckEvent>,
    ) -> usize {
        let since = Instant::now();
        let id = self.next_ack_id();
        if let PacketKind::Event { ack, .. } = &mut packet.kind {
            *ack = Some(id);
        }
        packet.ns = self.name.clone();
        let Some(encoded) = self.encode_for(&packet, opts) else {
            return 0;
        };
        let mut count = 0;
        for member in self.targets(opts) {
            member.expect_ack(id, sink.clone());
            if member.deliver(&encoded, opts.flags.volatile, &packet, since) {
                count += 1;
            }
        }
        count
    }

    /// A broadcast's packet, encoded once for all its recipients, and
    /// marked never to be compressed with `compress(false)`.
    fn encode_for(&self, packet: &Packet, opts: &BroadcastOptions) -> Option<Encoded> {
        let encoded = self.encode(packet)?;
        Some(match opts.flags.compress {
            Some(false) => encoded.plain(),
            _ => encoded,
        })
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
        for event in events {
            self.hooks.presence_changed(event);
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
        self.index.read().has_room(room)
    }

    /// Describes the local targets.
    pub fn fetch_local(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.targets(opts).iter().map(|m| m.info()).collect()
    }

    /// Adds a socket to rooms; returns the rooms that had no local member
    /// before (a cluster adapter subscribes to them).
    pub fn add_all_tracked(&self, sid: &Sid, rooms: &[Room]) -> Vec<Room> {
        let (joined, created) = self.index.write().add(sid, rooms);
        self.tell_rooms(joined.iter(), sid, true);
        created
    }

    /// Removes a socket from a room; returns whether the room is now empty
    /// on this node (and was not before).
    pub fn del_tracked(&self, sid: &Sid, room: &Room) -> bool {
        let (left, emptied) = self.index.write().del(sid, room);
        if left {
            self.tell_rooms(std::iter::once(room), sid, false);
        }
        emptied
    }

    /// Removes a socket from every room; returns the rooms left empty.
    pub fn del_all_tracked(&self, sid: &Sid) -> Vec<Room> {
        let (own, emptied) = self.index.write().del_all(sid);
        self.tell_rooms(own.iter(), sid, false);
        emptied
    }

    /// Tells the namespace (its observer) which rooms a socket joined or left.
    fn tell_rooms<'a>(&self, rooms: impl Iterator<Item = &'a Room>, sid: &Sid, joined: bool) {
        if self.hooks.watches_rooms() {
            for room in rooms {
                self.hooks.room_changed(room, sid, joined);
            }
        }
    }
}

mod single_node;
#[cfg(test)]
mod tests;
