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

mod answers;
mod eviction;
mod keeper;

use super::inner::{AdapterInner, Pin, room_destination};
use crate::format::Membership;
use crate::message::{Body, BroadcastKind};
use crate::session_store::{packets_from, session_from};
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{
    LoggedPacket, RecoveryConfig, SessionState, Unrecoverable, Unsent, offset_in_window,
};
use switchyard_core::{Adapter, BroadcastOptions, Room, Sid};

impl AdapterInner {
    /// How long sessions and packets are kept, when recovery is on.
    fn recovery_window(&self) -> Option<Duration> {
        self.local.recovery().map(|r| r.max_disconnection_duration)
    }

    /// Keeps a recoverable packet, sends it to the other nodes (unless
    /// local), and delivers it here. Kept first: the store has it before any
    /// other node can receive it live (the brokers write in queue order, NATS
    /// waiting for JetStream's acknowledgement). This node's sockets get it
    /// at once, before the store has it: a recovery here flushes the queue
    /// before it reads the store. So a recovery that reads the store once its
    /// socket is in its rooms finds every packet whose live copy it did not
    /// get.
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
            let kind = BroadcastKind::Recoverable(&offset);
            self.send_broadcast(room_destination(&opts.rooms), &packet, opts, kind);
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
        let pin = Pin {
            rooms: session.rooms.clone(),
            unsent: None,
        };
        self.pins.lock().insert(pid.clone(), pin);
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

    /// Keeps again a session taken for a client that left before its
    /// socket was connected. With a store, the store still has every
    /// packet since the client's offset; without one, this node may not
    /// (it learnt the replay from the node that kept the session): the
    /// replay is kept with the session, and what this node logged for the
    /// session's rooms since the recovery began follows it (the pin keeps
    /// them subscribed meanwhile).
    pub(super) fn return_session(
        self: &Arc<Self>,
        session: SessionState,
        unsent: Unsent,
        keep: Duration,
    ) {
        let pid = session.pid.clone();
        self.persist_session(session, keep);
        if let Some(pin) = self.pins.lock().get_mut(&pid) {
            pin.unsent = Some(unsent);
        }
    }

    /// How many sessions, and packets of replays given back, are kept.
    pub(in crate::adapter) fn pinned_entries(&self) -> usize {
        let pins = self.pins.lock();
        let replayed: usize = pins
            .values()
            .filter_map(|pin| pin.unsent.as_ref())
            .map(|unsent| unsent.missed.len())
            .sum();
        pins.len() + replayed
    }

    /// Whether a kept session holds on to a room.
    pub(super) fn pinned(&self, room: &Room) -> bool {
        self.pins
            .lock()
            .values()
            .any(|pin| pin.rooms.contains(room))
    }

    /// A kept session is gone: its rooms no longer need a subscription
    /// unless a socket or another session holds them.
    fn unpin(&self, pid: &str) {
        let Some(pin) = self.pins.lock().remove(pid) else {
            return;
        };
        let free: Vec<Room> = pin
            .rooms
            .into_iter()
            .filter(|r| !self.local.has_room(r) && !self.pinned(r))
            .collect();
        self.cluster.unsubscribe(self.room_channels(free));
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
            // This node delivered its own packets to its sockets before the
            // store had them: the socket is in its rooms now, so what it did
            // not get live was appended before this flush, and is stored once
            // the flush is done (see `broadcast_recoverable`).
            self.cluster.broker.flush().await;
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
            let missed = self.missed_kept(&pid, &offset, &rooms, &recovery);
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

    /// What the socket of a session kept here missed since `offset`: the
    /// rest of the replay it never got, when it was given back, else what
    /// this node's log holds.
    fn missed_kept(
        &self,
        pid: &str,
        offset: &str,
        rooms: &[Room],
        recovery: &RecoveryConfig,
    ) -> Result<Vec<Packet>, Unrecoverable> {
        let unsent = self
            .pins
            .lock()
            .get_mut(pid)
            .and_then(|pin| pin.unsent.take());
        let log = self.local.recovery_log();
        let (keep, max) = (
            recovery.max_disconnection_duration,
            recovery.max_replay_bytes,
        );
        let missed = unsent
            .and_then(|unsent| log.resume(&unsent, offset, rooms, keep, max))
            .unwrap_or_else(|| log.missed(offset, rooms, keep, max));
        if missed == Err(Unrecoverable::TooMuch) {
            switchyard_core::refused!(switchyard_core::limits::Refused::RecoveryReplay, ns = %self.ns, max = recovery.max_replay_bytes, "too much missed to replay: not recovered");
        }
        missed
    }

    fn recovery(&self) -> Option<RecoveryConfig> {
        self.local.recovery()
    }
}
