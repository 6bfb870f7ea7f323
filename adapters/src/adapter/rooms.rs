//! Joins that take effect cluster-wide before they are acknowledged.
//!
//! In formats that route rooms one by one, the first local member of a room
//! makes this node subscribe to the room's channel; a broadcast published
//! before the broker confirmed that subscription would not reach it. So a
//! join resolves once the subscriptions it needed are confirmed: the join
//! that created a room's subscription and every join of that room while it
//! is on its way wait for the same confirmation; joins of rooms already
//! heard resolve at once. A subscription the broker refuses is retried
//! (`apply_subscriptions`), then reported as the join's error.
//!
//! `sockets_join` asks every node and resolves once each confirmed its part.

use super::ClusterAdapter;
use super::inner::AdapterInner;
use super::pending_rooms::{Outcome, outcome};
use crate::format::{Destination, Membership};
use crate::message::Body;
use crate::random_id::random_id;
use crate::requests::Expected;
use std::sync::Arc;
use switchyard_core::adapter::{JoinError, JoinFuture};
use switchyard_core::{Adapter, BroadcastOptions, Room, Sid, Value};
use tokio::sync::{oneshot, watch};

impl AdapterInner {
    /// Subscribes `created` (rooms that just got their first local member)
    /// and returns what a join of `rooms` waits for.
    pub(super) fn confirm_join(self: &Arc<Self>, rooms: &[Room], created: Vec<Room>) -> JoinFuture {
        let mut waits = Vec::new();
        if let Some(ready) = self.namespace_ready() {
            waits.push(ready);
        }
        if self.cluster.format.subscribes_rooms() {
            let mut pending = self.pending_rooms.0.lock();
            for room in rooms.iter().filter(|r| !created.contains(r)) {
                if let Some(rx) = pending.get(room) {
                    waits.push(rx.clone());
                }
            }
            if !created.is_empty() {
                let (tx, rx) = watch::channel(None);
                for room in &created {
                    pending.insert(room.clone(), rx.clone());
                }
                let (done_tx, done_rx) = oneshot::channel();
                self.cluster
                    .subscribe(self.room_channels(created.iter().cloned()), Some(done_tx));
                let inner = Arc::downgrade(self);
                let watched = rx.clone();
                self.cluster.runtime.spawn(async move {
                    let result = match done_rx.await {
                        Ok(true) => Ok(()),
                        Ok(false) => Err("the broker refused the subscription".to_owned()),
                        Err(_) => Err("the cluster stopped".to_owned()),
                    };
                    if let Some(inner) = inner.upgrade() {
                        let mut pending = inner.pending_rooms.0.lock();
                        for room in &created {
                            if pending.get(room).is_some_and(|r| r.same_channel(&watched)) {
                                pending.remove(room);
                            }
                        }
                    }
                    let _ = tx.send(Some(result));
                });
                waits.push(rx);
            }
        }
        if waits.is_empty() {
            return JoinFuture::ready();
        }
        JoinFuture::waiting(async move {
            for rx in waits {
                outcome(rx).await?;
            }
            Ok(())
        })
    }

    /// What a join waits for until the namespace's own channels are
    /// confirmed (only right after the node started); `None` once they are.
    fn namespace_ready(&self) -> Option<watch::Receiver<Outcome>> {
        let pending = self.ready.borrow().is_none();
        pending.then(|| self.ready.clone())
    }

    /// Whether this namespace's own channels were subscribed.
    pub(crate) fn is_subscribed(&self) -> bool {
        // Once tried: after a failure the broker resubscribes on reconnection.
        self.ready.borrow().is_some()
    }

    /// Another node asks this one to make sockets join and to confirm.
    pub(super) fn answer_sockets_join(
        self: &Arc<Self>,
        from: crate::broker::NodeId,
        request_id: crate::message::RequestId,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) {
        let joined = self.local.add_sockets(&opts, &rooms);
        let inner = self.clone();
        self.cluster.runtime.spawn(async move {
            let error = joined.await.err().map(|e| e.to_string());
            inner.send(
                Destination::Node(&from),
                Body::JoinConfirmation { request_id, error },
            );
        });
    }

    /// `sockets_join` across the cluster: every node applies it and, in
    /// formats that route rooms one by one, confirms.
    pub(super) fn sockets_join(
        self: &Arc<Self>,
        opts: &BroadcastOptions,
        rooms: &[Room],
    ) -> JoinFuture {
        let local = self.local.add_sockets(opts, rooms);
        if opts.flags.local {
            return local;
        }
        if self.cluster.format.membership() != Membership::Heartbeat {
            // Node's format: its servers never answer a join. Every node
            // hears rooms through the namespace's pattern subscription, so
            // the join takes effect where the request arrives, before any
            // later broadcast of this node (one publisher, in order), as
            // with Node's adapter.
            self.send(
                Destination::Everyone,
                Body::SocketsJoin {
                    opts: opts.clone(),
                    rooms: rooms.to_vec(),
                },
            );
            return local;
        }
        let id = random_id();
        let nodes = self.nodes.lock().keys().cloned().collect();
        let done = self
            .requests
            .gather(id.clone(), Expected::Nodes(nodes), Vec::new());
        self.send(
            Destination::Everyone,
            Body::SocketsJoinConfirmed {
                opts: opts.clone(),
                rooms: rooms.to_vec(),
                request_id: id.clone(),
            },
        );
        let inner = self.clone();
        let timeout = self.cluster.config.request_timeout;
        JoinFuture::waiting(async move {
            let here = local.await;
            let _ = tokio::time::timeout(timeout, done).await;
            let gathered = inner.requests.finish(&id);
            here?;
            if let Some(Value::String(error)) = gathered.values.into_iter().find(|v| !v.is_null()) {
                return Err(JoinError::Unconfirmed(error));
            }
            if gathered.missing > 0 {
                return Err(JoinError::Unconfirmed(format!(
                    "{} node(s) did not confirm in time",
                    gathered.missing
                )));
            }
            Ok(())
        })
    }
}

impl ClusterAdapter {
    pub(super) fn join_here(&self, sid: &Sid, rooms: &[Room]) -> JoinFuture {
        let created = self.0.local.add_all_tracked(sid, rooms);
        self.0.confirm_join(rooms, created)
    }
}
