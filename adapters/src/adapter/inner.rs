//! `AdapterInner`: the state of one namespace's adapter, shared by the
//! adapter, its tasks and the dispatch task, and how it sends to the
//! other nodes.

use super::pending_rooms::PendingRooms;
use crate::broker::{Channel, NodeId};
use crate::cluster::shared::ClusterShared;
use crate::format::Destination;
use crate::message::{Body, ClusterMessage, RequestId};
use crate::random_id::random_id;
use crate::requests::Requests;
use bytes::Bytes;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use switchyard_core::recovery::Unsent;
use switchyard_core::{LocalAdapter, Room, Sid, SocketInfo, Value};

/// The state of one namespace's adapter.
pub(crate) struct AdapterInner {
    pub(crate) ns: SmolStr,
    /// The namespace's room index on this node: local delivery, and the
    /// namespace's hooks (server-side events, evictions).
    pub(crate) local: Arc<LocalAdapter>,
    pub(crate) cluster: Arc<ClusterShared>,
    /// Other nodes, with when they were last heard from (heartbeat membership).
    pub(crate) nodes: Mutex<HashMap<NodeId, Instant>>,
    pub(crate) requests: Requests,
    /// When this node last sent to every node (which counts as a heartbeat).
    pub(crate) last_broadcast: Mutex<Instant>,
    /// Where the format sends heartbeats.
    pub(crate) heartbeat_channel: Channel,
    /// When this node last told where it listens.
    pub(crate) last_announce: Mutex<Instant>,
    /// Room subscriptions on their way, and the joins waiting for them.
    pub(crate) pending_rooms: PendingRooms,
    /// Set once the broker confirmed the namespace's own channels.
    pub(crate) ready: tokio::sync::watch::Receiver<Option<Result<(), String>>>,
    /// Sessions kept here for recovery, by private session id.
    pub(crate) pins: Mutex<HashMap<Sid, Pin>>,
    /// The last nodes that said goodbye: a message of theirs that arrives
    /// after it (on another of the broker's channels) does not count them
    /// again.
    pub(crate) departed: super::membership::Departed,
    /// Nodes whose presence table arrived here at least once.
    pub(crate) presence_peers: Mutex<std::collections::HashSet<NodeId>>,
    pub(crate) closed: AtomicBool,
}

/// A session kept here for recovery (without a session store): the rooms
/// it holds on to, and the replay it never got when it was given back.
pub(crate) struct Pin {
    pub(crate) rooms: Vec<Room>,
    pub(crate) unsent: Option<Unsent>,
}

/// Where a broadcast to `rooms` goes: a room's own channel when it targets
/// exactly one room (only nodes with members there hear it), else everyone.
pub(crate) fn room_destination(rooms: &[Room]) -> Destination<'_> {
    match rooms {
        [room] => Destination::Room(room),
        _ => Destination::Everyone,
    }
}

impl AdapterInner {
    /// Sends a message through the format. What goes to every node also
    /// counts as a heartbeat.
    pub(crate) fn send(&self, to: Destination<'_>, body: Body) {
        let message = ClusterMessage {
            uid: self.cluster.uid.clone(),
            nsp: self.ns.clone(),
            body,
        };
        if let Some(encoded) = self.cluster.format.encode(&message, to) {
            self.publish_encoded(encoded);
        }
    }

    /// Publishes an encoded message; what goes where heartbeats go counts as
    /// one.
    pub(crate) fn publish_encoded(&self, (channel, bytes): (Channel, Bytes)) {
        if channel == self.heartbeat_channel {
            *self.last_broadcast.lock() = Instant::now();
        }
        self.cluster.broker.publish(&channel, bytes);
    }

    /// The channels of rooms, for formats that subscribe to rooms one by one.
    pub(crate) fn room_channels(&self, rooms: impl IntoIterator<Item = Room>) -> Vec<Channel> {
        if !self.cluster.format.subscribes_rooms() {
            return Vec::new();
        }
        rooms
            .into_iter()
            .filter(|room| self.cluster.format.room_has_channel(room))
            .map(|room| Channel::Room {
                ns: self.ns.clone(),
                room,
            })
            .collect()
    }

    /// Sends a request to every node and gathers the answers until all are
    /// in or `timeout` passes.
    pub(crate) async fn gather(
        &self,
        body_for: impl FnOnce(RequestId) -> Body,
        local: Vec<SocketInfo>,
        timeout: Duration,
    ) -> (Vec<SocketInfo>, Vec<Value>, usize) {
        let id = random_id();
        let done = self
            .requests
            .gather(id.clone(), self.expected().await, local);
        self.send(Destination::Everyone, body_for(id.clone()));
        let _ = tokio::time::timeout(timeout, done).await;
        let gathered = self.requests.finish(&id);
        if gathered.missing > 0 {
            tracing::warn!(ns = %self.ns, missing = gathered.missing, "request timed out: partial results");
        }
        (gathered.sockets, gathered.values, gathered.missing)
    }
}
