//! `LocalAdapter` as the adapter of a single node: the [`Adapter`] trait
//! over the namespace's room index, with nothing to tell other nodes.

use super::LocalAdapter;
use crate::adapter::ack::{AckCollector, AckEvent, BroadcastAckFuture};
use crate::adapter::{Adapter, JoinFuture};
use crate::presence::PresenceTable;
use crate::protocol::Packet;
use crate::recovery::{LoggedPacket, RecoveryConfig, SessionState, Unrecoverable};
use crate::sid::Sid;
use crate::value::Value;
use crate::vocab::{
    AdapterError, AdapterHeld, BoxFuture, BroadcastOptions, Partial, Room, ServerSideAck,
    SocketInfo,
};
use smol_str::SmolStr;
use std::time::{Duration, Instant};
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
        self.index.read().socket_rooms(sid)
    }

    fn rooms(&self) -> Vec<Room> {
        self.index.read().rooms()
    }

    fn broadcast(&self, mut packet: Packet, opts: &BroadcastOptions) {
        let since = Instant::now();
        packet.ns = self.name.clone();
        // Encoded once; every recipient gets the same shared bytes.
        let Some(encoded) = self.encode_for(&packet, opts) else {
            return;
        };
        crate::metrics::HOT.broadcasts.increment(1);
        for member in self.targets(opts) {
            member.deliver(&encoded, opts.flags.volatile, &packet, since);
        }
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
        for member in self.targets(opts) {
            // A refusal by a socket's limits is counted and logged by `join`;
            // the others still join.
            let joined = member.join(rooms.to_vec());
            if joined.is_applied() {
                all = all.and(joined);
            }
        }
        all
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for member in self.targets(opts) {
            for room in rooms {
                member.leave(room.clone());
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for member in self.targets(opts) {
            member.disconnect(close);
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
        let keep = self.recovery.map(|r| r.max_disconnection_duration);
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

    fn held(&self, keep: Duration) -> AdapterHeld {
        AdapterHeld {
            recovery_entries: self.log.entries(keep),
            pending_requests: 0,
        }
    }

    fn take_session(&self, pid: Sid, recovery: RecoveryConfig) -> BoxFuture<Option<SessionState>> {
        let session = self.log.take(&pid, recovery.max_disconnection_duration);
        Box::pin(async move { session })
    }

    fn evict_session(&self, pid: Sid) -> BoxFuture<bool> {
        let evicted = self.hooks.evict(&pid);
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
