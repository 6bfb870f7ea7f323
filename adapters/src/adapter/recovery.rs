//! Connection state recovery across the cluster.
//!
//! With a [`SessionStore`](crate::SessionStore) (Redis, NATS JetStream) the
//! sending node keeps each recoverable packet and the node a socket was on
//! keeps its session there; any node restores it, also after that node
//! died. Without one, every node keeps in memory the packets it delivered,
//! and the node a socket was on keeps its session and stays subscribed to
//! its rooms until the session is restored or expires; another node asks
//! that node (named in the private session id) for the session, then, once
//! the socket rejoined its rooms here, for the packets it missed. It is
//! then lost if that node dies.

use super::AdapterInner;
use crate::broker::NodeId;
use crate::cluster::random_id;
use crate::format::{Destination, Membership};
use crate::message::{Body, RequestId};
use crate::requests::Expected;
use crate::session_store::{
    packets_from, packets_value, recovered_value, session_from, session_value,
};
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{
    LoggedPacket, RecoveryConfig, SessionState, Unrecoverable, offset_in_window,
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

    /// Keeps a recoverable packet, sends it to the other nodes (unless
    /// local), and delivers it here. Kept first: the store has it before any
    /// node can receive it live (the brokers write in queue order, NATS
    /// waiting for JetStream's acknowledgement), so a recovery that reads
    /// the store once its socket is in its rooms finds every packet whose
    /// live copy it did not get.
    pub(super) fn broadcast_recoverable(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        offset: SmolStr,
    ) {
        if let (Some(store), Some(keep)) = (&self.cluster.store, self.recovery_window()) {
            let logged = LoggedPacket {
                offset: offset.clone(),
                packet: packet.clone(),
                opts: opts.clone(),
            };
            store.append(&self.ns, &logged, keep);
        }
        if !opts.flags.local {
            let body = Body::RecoverableBroadcast {
                packet: packet.clone(),
                opts: opts.clone(),
                offset: offset.clone(),
            };
            self.send(super::room_destination(&opts.rooms), body);
        }
        self.deliver_recoverable(packet, opts, offset);
    }

    /// Delivers a recoverable packet here; without a store, keeps it in
    /// memory (with one, the sending node stored it).
    pub(super) fn deliver_recoverable(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        offset: SmolStr,
    ) {
        match &self.cluster.store {
            Some(_) => self.local.broadcast(packet, opts),
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

    /// The live node that keeps a session, as its pid names it
    /// (`<random>.<tag>`, see `new_pid`); `None` for this node or none.
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

    /// Sends one request to one node and waits for its answer (null when
    /// it has none or does not answer in time).
    async fn ask(&self, node: NodeId, body: impl Fn(RequestId) -> Body) -> Value {
        let id = random_id();
        let done = self.requests.gather(
            id.clone(),
            Expected::Nodes([node.clone()].into_iter().collect()),
            Vec::new(),
        );
        self.send(Destination::Node(&node), body(id.clone()));
        let _ = tokio::time::timeout(self.cluster.config.request_timeout, done).await;
        self.requests
            .finish(&id)
            .values
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    }

    /// Sends one request to every node and returns the first answer that is
    /// not null (or null once all answered or the timeout passed).
    async fn ask_everyone(&self, body: impl FnOnce(RequestId) -> Body) -> Value {
        let id = random_id();
        let nodes = self.nodes.lock().keys().cloned().collect();
        let done = self
            .requests
            .gather(id.clone(), Expected::Nodes(nodes), Vec::new());
        self.send(Destination::Everyone, body(id.clone()));
        let _ = tokio::time::timeout(self.cluster.config.request_timeout, done).await;
        self.requests
            .finish(&id)
            .values
            .into_iter()
            .find(|v| !v.is_null() && *v != Value::Bool(false))
            .unwrap_or(Value::Null)
    }

    /// Asks the node a pid names; when it has nothing, or the pid names no
    /// live node (the session was recovered on another node since, which
    /// keeps it now, or the node that made it was restarted), every node,
    /// in one request that each answers at once.
    async fn ask_keeper(&self, pid: &Sid, body: impl Fn(RequestId) -> Body) -> Value {
        if let Some(keeper) = self.keeper_of(pid) {
            let answer = self.ask(keeper, &body).await;
            if !answer.is_null() {
                return answer;
            }
        }
        if self.nodes.lock().is_empty() {
            return Value::Null;
        }
        self.ask_everyone(body).await
    }

    /// Closes the connection of the socket with this pid wherever it still
    /// looks connected (its client came back), so that its session is
    /// kept; whether the session may be taken now: a socket was found, or
    /// every node flushed the store (a socket that had just left has its
    /// session there now). Without a store and without a socket found,
    /// asking again could find nothing new.
    pub(super) async fn evict_session(self: Arc<Self>, pid: Sid) -> bool {
        let flushed = self.cluster.store.is_some();
        if self.evict_here(&pid).await {
            return true;
        }
        // A node that just started may not know the others yet: the old
        // socket would stay open elsewhere, and its session untaken.
        self.cluster.until_settled().await;
        let alone = self.nodes.lock().is_empty();
        if alone {
            return flushed;
        }
        let pid_text = SmolStr::new(pid.as_str());
        let found = self
            .ask_everyone(|request_id| Body::EvictSession {
                pid: pid_text,
                request_id,
            })
            .await
            == Value::Bool(true);
        found || flushed
    }

    /// Evicts a socket of this node; once evicted, its session is in the
    /// store (flushed) or in this node's memory. The store is flushed even
    /// when there was nothing to evict: the socket may have just left, its
    /// session still on its way there.
    async fn evict_here(&self, pid: &str) -> bool {
        let evicted = self.namespace.upgrade().is_some_and(|ns| ns.evict(pid));
        if self.cluster.store.is_some() {
            self.cluster.broker.flush().await;
        }
        evicted
    }

    /// Another node asks this one to evict a socket.
    pub(super) fn answer_evict(
        self: &Arc<Self>,
        from: NodeId,
        request_id: RequestId,
        pid: SmolStr,
    ) {
        let inner = self.clone();
        self.cluster.runtime.spawn(async move {
            let evicted = inner.evict_here(&pid).await;
            inner.send(
                Destination::Node(&from),
                Body::RestoreSessionResponse {
                    request_id,
                    session: Value::Bool(evicted),
                },
            );
        });
    }

    /// Takes a kept session: from the store, from this node, or from the
    /// node its pid names (one request; none when it names no live node).
    pub(super) async fn take_session(
        self: Arc<Self>,
        pid: Sid,
        recovery: RecoveryConfig,
    ) -> Option<SessionState> {
        let keep = recovery.max_disconnection_duration;
        if let Some(store) = &self.cluster.store {
            return match store.take(&self.ns, &pid).await {
                Ok(session) => session,
                Err(e) => {
                    tracing::warn!(ns = %self.ns, error = %e, "cannot take a session from the store: the client starts afresh");
                    None
                }
            };
        }
        if let Some(session) = self.local.recovery_log().take(&pid, keep) {
            return Some(session);
        }
        if self.cluster.format.membership() != Membership::Heartbeat {
            return None;
        }
        let pid_text = SmolStr::new(pid.as_str());
        let answer = self
            .ask_keeper(&pid, |request_id| Body::TakeSession {
                pid: pid_text.clone(),
                request_id,
            })
            .await;
        if answer.is_null() {
            return None;
        }
        match session_from(answer) {
            Ok(session) => Some(session),
            Err(e) => {
                tracing::warn!(ns = %self.ns, error = %e, "a node answered with a malformed session");
                None
            }
        }
    }

    /// The packets a recovering socket missed: from the store, this node's
    /// log, or the log of the node that kept its session.
    pub(super) async fn missed_packets(
        self: Arc<Self>,
        pid: Sid,
        offset: SmolStr,
        rooms: Vec<Room>,
        recovery: RecoveryConfig,
    ) -> Result<Vec<Packet>, Unrecoverable> {
        let keep = recovery.max_disconnection_duration;
        if !offset_in_window(&offset, keep) {
            return Err(Unrecoverable::UnknownOffset);
        }
        if let Some(store) = &self.cluster.store {
            let missed = store
                .missed(&self.ns, &offset, &rooms, keep, recovery.max_replay_bytes)
                .await;
            return match missed {
                Ok(missed) => missed,
                Err(e) => {
                    tracing::warn!(ns = %self.ns, error = %e, "cannot read missed packets from the store: the client starts afresh");
                    Err(Unrecoverable::UnknownOffset)
                }
            };
        }
        if self.pins.lock().contains_key(pid.as_str()) {
            // Taken here: this node kept its rooms and logged their packets.
            let missed = self.missed_here(&offset, &rooms, &recovery);
            self.unpin(&pid);
            return missed;
        }
        let pid_text = SmolStr::new(pid.as_str());
        let answer = self
            .ask_keeper(&pid, |request_id| Body::MissedSince {
                pid: pid_text.clone(),
                offset: offset.clone(),
                rooms: rooms.clone(),
                request_id,
            })
            .await;
        if answer.is_null() {
            return Err(Unrecoverable::UnknownOffset);
        }
        packets_from(answer, &self.ns).map_err(|e| {
            tracing::warn!(ns = %self.ns, error = %e, "a node answered with malformed packets");
            Unrecoverable::UnknownOffset
        })
    }

    fn missed_here(
        &self,
        offset: &str,
        rooms: &[Room],
        recovery: &RecoveryConfig,
    ) -> Result<Vec<Packet>, Unrecoverable> {
        let missed = self.local.recovery_log().missed(
            offset,
            rooms,
            recovery.max_disconnection_duration,
            recovery.max_replay_bytes,
        );
        if missed == Err(Unrecoverable::TooMuch) {
            switchyard_core::refused!(switchyard_core::limits::Refused::RecoveryReplay, ns = %self.ns, max = recovery.max_replay_bytes, "too much missed to replay: not recovered");
        }
        missed
    }

    fn recovery(&self) -> Option<RecoveryConfig> {
        self.namespace.upgrade().and_then(|ns| ns.recovery())
    }

    /// Another node takes a session kept here.
    pub(super) fn answer_take(&self, from: &NodeId, request_id: RequestId, pid: &str) {
        let session = self
            .recovery()
            .and_then(|r| {
                self.local
                    .recovery_log()
                    .take(pid, r.max_disconnection_duration)
            })
            .map_or(Value::Null, |s| session_value(&s));
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session,
            },
        );
    }

    /// Another node asks what a socket whose session was kept here missed;
    /// the session's rooms need no subscription here any more. A node that
    /// did not keep it answers null.
    pub(super) fn answer_missed(
        &self,
        from: &NodeId,
        request_id: RequestId,
        pid: &str,
        offset: &str,
        rooms: &[Room],
    ) {
        let kept_here = self.pins.lock().contains_key(pid);
        let missed = self
            .recovery()
            .filter(|_| kept_here)
            .ok_or(Unrecoverable::UnknownOffset)
            .and_then(|r| self.missed_here(offset, rooms, &r));
        self.unpin(pid);
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session: missed.map_or(Value::Null, |p| packets_value(&p)),
            },
        );
    }

    /// A node of the previous version asks for a session and its missed
    /// packets in one request (type 18): give both up if kept here.
    pub(super) fn answer_restore(
        &self,
        from: &NodeId,
        request_id: RequestId,
        pid: &str,
        offset: &str,
    ) {
        let session = self
            .recovery()
            .and_then(|r| {
                self.local.recovery_log().restore(
                    pid,
                    offset,
                    r.max_disconnection_duration,
                    r.max_replay_bytes,
                )
            })
            .map_or(Value::Null, |restored| recovered_value(&restored));
        self.unpin(pid);
        self.send(
            Destination::Node(from),
            Body::RestoreSessionResponse {
                request_id,
                session,
            },
        );
    }
}
