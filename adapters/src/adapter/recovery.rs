//! Connection state recovery across the cluster.
//!
//! With a [`SessionStore`](crate::SessionStore) (Redis, NATS JetStream) the
//! sending node keeps each recoverable packet and the node a socket was on
//! keeps its session there; any node restores it, also after that node
//! died. Without one, every node keeps in memory the packets it delivered,
//! and the node a socket was on keeps its session and stays subscribed to
//! its rooms until the session is restored or expires; another node asks
//! the cluster for the session. It is then lost if that node dies.

use super::AdapterInner;
use crate::broker::NodeId;
use crate::cluster::random_id;
use crate::format::{Destination, Membership};
use crate::message::{Body, RequestId};
use crate::requests::Expected;
use crate::session_store::{recovered_from, recovered_value};
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{
    LoggedPacket, RecoveredSession, RecoveryConfig, SessionState, offset_in_window,
};
use switchyard_core::{Adapter, BroadcastOptions, Room, Sid, Value};

impl AdapterInner {
    /// How long sessions and packets are kept, when recovery is on.
    fn recovery_window(&self) -> Option<Duration> {
        self.namespace
            .upgrade()?
            .recovery()
            .map(|r| r.max_disconnection_duration)
    }

    /// Sends a recoverable packet to the other nodes (unless local), keeps
    /// it, and delivers it here.
    pub(super) fn broadcast_recoverable(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        offset: SmolStr,
    ) {
        if !opts.flags.local {
            let body = Body::RecoverableBroadcast {
                packet: packet.clone(),
                opts: opts.clone(),
                offset: offset.clone(),
            };
            self.send(self.recent_joins.destination(&opts.rooms), body);
        }
        self.deliver_recoverable(packet, opts, offset, true);
    }

    /// Delivers a recoverable packet here and keeps it: in the store when
    /// this node sent it, in memory when there is no store.
    pub(super) fn deliver_recoverable(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        offset: SmolStr,
        sent_here: bool,
    ) {
        match &self.cluster.store {
            Some(store) => {
                if sent_here && let Some(keep) = self.recovery_window() {
                    let logged = LoggedPacket {
                        offset,
                        packet: packet.clone(),
                        opts: opts.clone(),
                    };
                    store.append(&self.ns, &logged, keep);
                }
                self.local.broadcast(packet, opts);
            }
            None => self.local.broadcast_recoverable(packet, opts, offset),
        }
    }

    /// Keeps the session of a socket that lost its connection.
    pub(super) fn persist_session(self: &Arc<Self>, session: SessionState, keep: Duration) {
        if let Some(store) = &self.cluster.store {
            return store.save(&self.ns, &session, keep);
        }
        let pid = session.pid.clone();
        self.pins.lock().insert(pid.clone(), session.rooms.clone());
        self.local.persist_session(session, keep);
        let weak = Arc::downgrade(self);
        self.cluster.runtime.spawn(async move {
            tokio::time::sleep(keep).await;
            if let Some(inner) = weak.upgrade() {
                inner.local.recovery_log().forget(&pid);
                inner.unpin(&pid);
            }
        });
    }

    /// Whether a kept session holds on to a room.
    pub(super) fn pinned(&self, room: &Room) -> bool {
        self.pins.lock().values().any(|rooms| rooms.contains(room))
    }

    /// A kept session is gone: its rooms no longer need a subscription
    /// unless a socket or another session holds them.
    fn unpin(&self, pid: &str) {
        let Some(rooms) = self.pins.lock().remove(pid) else {
            return;
        };
        let free: Vec<Room> = rooms
            .into_iter()
            .filter(|r| !self.local.has_room(r) && !self.pinned(r))
            .collect();
        self.cluster.unsubscribe(self.room_channels(free));
    }

    /// Takes a session kept here, if any.
    fn restore_here(
        &self,
        pid: &str,
        offset: &str,
        recovery: &RecoveryConfig,
    ) -> Option<RecoveredSession> {
        // Restored or not (its offset too old), the session is gone now.
        let restored = self.local.recovery_log().restore(
            pid,
            offset,
            recovery.max_disconnection_duration,
            recovery.max_replay_bytes,
        );
        self.unpin(pid);
        restored
    }

    /// The live node that keeps a session, as its pid names it
    /// (`<random>.<tag>`, see `new_pid`).
    fn keeper_of(&self, pid: &str) -> Option<NodeId> {
        let tag = switchyard_core::engine::tag_of(pid)?;
        if tag == self.cluster.tag.as_str() {
            return None;
        }
        self.nodes
            .lock()
            .keys()
            .find(|node| node.as_str().starts_with(tag))
            .cloned()
    }

    /// Restores a session from the store, from this node, or from the node
    /// that keeps it: one request to that node, none when the pid names no
    /// live node.
    pub(super) async fn restore_session(
        self: Arc<Self>,
        pid: Sid,
        offset: SmolStr,
        recovery: RecoveryConfig,
    ) -> Option<RecoveredSession> {
        if let Some(store) = &self.cluster.store {
            let restored = store
                .restore(
                    &self.ns,
                    &pid,
                    &offset,
                    recovery.max_disconnection_duration,
                    recovery.max_replay_bytes,
                )
                .await;
            return match restored {
                Ok(restored) => restored,
                Err(e) => {
                    tracing::warn!(ns = %self.ns, error = %e, "cannot restore a session from the store: the client starts afresh");
                    None
                }
            };
        }
        if !offset_in_window(&offset, recovery.max_disconnection_duration) {
            return None;
        }
        if let Some(restored) = self.restore_here(&pid, &offset, &recovery) {
            return Some(restored);
        }
        if self.cluster.format.membership() != Membership::Heartbeat {
            return None;
        }
        let keeper = self.keeper_of(&pid)?;
        let timeout = self.cluster.config.request_timeout;
        let id = random_id();
        let done = self.requests.gather(
            id.clone(),
            Expected::Nodes([keeper.clone()].into_iter().collect()),
            Vec::new(),
        );
        self.send(
            Destination::Node(&keeper),
            Body::RestoreSession {
                pid: SmolStr::new(pid.as_str()),
                offset: offset.clone(),
                request_id: id.clone(),
            },
        );
        let _ = tokio::time::timeout(timeout, done).await;
        let answers = self.requests.finish(&id).values;
        let found = answers.into_iter().find(|a| !a.is_null())?;
        match recovered_from(found, &self.ns) {
            Ok(restored) => Some(restored),
            Err(e) => {
                tracing::warn!(ns = %self.ns, error = %e, "a node answered a restore with a malformed session");
                None
            }
        }
    }

    /// Another node asks for a session: give it up if it is kept here.
    pub(super) fn answer_restore(
        &self,
        from: &crate::NodeId,
        request_id: RequestId,
        pid: &str,
        offset: &str,
    ) {
        let session = self
            .namespace
            .upgrade()
            .and_then(|ns| ns.recovery())
            .and_then(|recovery| self.restore_here(pid, offset, &recovery))
            .map_or(Value::Null, |restored| recovered_value(&restored));
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session,
            },
        );
    }
}
