//! `ClusterAdapter`: the Adapter of one namespace across the cluster.
//!
//! Every operation is applied locally through [`LocalAdapter`] and, unless
//! `local` is set, sent to the other nodes, which apply it to their own
//! sockets. Requests (fetch, server-side emit, acknowledged broadcasts) go
//! to every node; answers come back to the requesting node. Where each
//! message goes and how it looks is the broker's [`WireFormat`]'s choice;
//! so is how nodes are counted (heartbeats, or the broker's count of
//! subscribers).

mod incoming;
pub(crate) mod inner;
mod membership;
mod outgoing;
mod pending_rooms;
mod presence;
mod recovery;
mod rooms;

use crate::broker::{Channel, NodeId};
use crate::cluster::shared::ClusterShared;
use crate::format::{Destination, Membership};
use crate::message::{Body, BroadcastKind, ClusterMessage};
use crate::random_id::random_id;
use crate::requests::{Expected, Requests};
use inner::{AdapterInner, room_destination};
use membership::heartbeat;
use parking_lot::Mutex;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchyard_core::adapter::JoinFuture;
use switchyard_core::adapter::{
    AckCollector, AckEvent, AdapterError, BoxFuture, BroadcastAckFuture, Partial, ServerSideAck,
};
use switchyard_core::presence::PresenceTable;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{RecoveryConfig, SessionState, Unrecoverable, Unsent};
use switchyard_core::{Adapter, BroadcastOptions, LocalAdapter, Room, Sid, SocketInfo, Value};
use tokio::sync::oneshot;

/// The adapter of one namespace in a cluster.
pub struct ClusterAdapter(pub(crate) Arc<AdapterInner>);

impl ClusterAdapter {
    pub(crate) fn start(cluster: Arc<ClusterShared>, local: Arc<LocalAdapter>) -> ClusterAdapter {
        let ns = local.name().clone();
        let beat = ClusterMessage {
            uid: cluster.uid.clone(),
            nsp: ns.clone(),
            body: Body::Heartbeat,
        };
        let heartbeat_channel = cluster
            .format
            .encode(&beat, Destination::Everyone)
            .map_or_else(|| Channel::Namespace(ns.clone()), |(channel, _)| channel);
        let (ready_tx, ready) = tokio::sync::watch::channel(None);
        let inner = Arc::new(AdapterInner {
            heartbeat_channel,
            local,
            cluster: cluster.clone(),
            nodes: Mutex::new(HashMap::new()),
            requests: Requests::default(),
            last_broadcast: Mutex::new(Instant::now()),
            last_announce: Mutex::new(Instant::now()),
            pending_rooms: pending_rooms::PendingRooms::default(),
            ready,
            pins: Mutex::new(HashMap::new()),
            departed: membership::Departed::default(),
            presence_peers: Mutex::default(),
            closed: AtomicBool::new(false),
            ns,
        });
        let (subscribed, confirmed) = oneshot::channel();
        cluster.subscribe(
            cluster.format.channels(&inner.ns, &cluster.uid),
            Some(subscribed),
        );
        // Heartbeats run in every format: in Node's they go to the channel
        // only Switchyard nodes hear, for presence.
        let weak = Arc::downgrade(&inner);
        cluster.runtime.spawn(async move {
            // Announce ourselves once we can hear the answers.
            let subscribed = matches!(confirmed.await, Ok(true));
            let _ = ready_tx.send(Some(if subscribed {
                Ok(())
            } else {
                Err("the broker refused the namespace's channels".into())
            }));
            if let Some(inner) = weak.upgrade() {
                inner.send(Destination::Everyone, Body::InitialHeartbeat);
                inner.announce_address(true);
            }
            heartbeat(weak).await;
        });
        ClusterAdapter(inner)
    }

    /// The other nodes currently known (heartbeat membership).
    pub fn nodes(&self) -> Vec<NodeId> {
        self.0.nodes.lock().keys().cloned().collect()
    }
}

impl Adapter for ClusterAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) -> JoinFuture {
        self.join_here(sid, rooms)
    }

    fn del(&self, sid: &Sid, room: &Room) {
        if self.0.local.del_tracked(sid, room) {
            self.0
                .cluster
                .unsubscribe(self.0.room_channels([room.clone()]));
        }
    }

    fn del_all(&self, sid: &Sid) {
        let mut deleted = self.0.local.del_all_tracked(sid);
        // A session kept for recovery still listens to its rooms.
        deleted.retain(|room| !self.0.pinned(room));
        if !deleted.is_empty() {
            self.0.cluster.unsubscribe(self.0.room_channels(deleted));
        }
    }

    fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
        self.0.local.socket_rooms(sid)
    }

    fn rooms(&self) -> Vec<Room> {
        self.0.local.rooms()
    }

    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) {
        if !opts.flags.local {
            // Only nodes with members in a room listen to its channel.
            let to = room_destination(&opts.rooms);
            self.0
                .send_broadcast(to, &packet, opts, BroadcastKind::Plain);
        }
        self.0.local.broadcast(packet, opts);
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BroadcastAckFuture {
        if opts.flags.local {
            return self.0.local.broadcast_with_ack(packet, opts, timeout);
        }
        let id = random_id();
        let heartbeat = self.0.cluster.format.membership() == Membership::Heartbeat;
        let (collector, sink) = if heartbeat {
            let nodes: std::collections::HashSet<NodeId> =
                self.0.nodes.lock().keys().cloned().collect();
            let pair = AckCollector::new(nodes.len() + 1);
            self.0
                .requests
                .acks(id.clone(), Expected::Nodes(nodes), pair.1.clone());
            pair
        } else {
            // Node's way: send first, count the servers after.
            let pair = AckCollector::counting_later();
            self.0
                .requests
                .acks(id.clone(), Expected::Count(usize::MAX), pair.1.clone());
            pair
        };
        // Every node must report its count, members or not: everyone.
        let kind = BroadcastKind::WithAck(&id);
        self.0
            .send_broadcast(Destination::Everyone, &packet, opts, kind);
        let count = self.0.local.broadcast_with_ack_to(packet, opts, &sink);
        let _ = sink.send(AckEvent::ClientCount(count));
        let inner = self.0.clone();
        Box::pin(async move {
            if !heartbeat {
                let _ = sink.send(AckEvent::Servers(inner.server_count().await));
            }
            drop(sink);
            let result = collector.collect(timeout).await;
            inner.requests.forget(&id);
            result
        })
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<Result<Partial<Vec<SocketInfo>>, AdapterError>> {
        let local = self.0.local.fetch_local(opts);
        if opts.flags.local {
            return Box::pin(async move {
                Ok(Partial {
                    items: local,
                    missing: 0,
                })
            });
        }
        let inner = self.0.clone();
        let opts = opts.clone();
        let timeout = opts
            .flags
            .timeout
            .unwrap_or(inner.cluster.config.request_timeout);
        Box::pin(async move {
            let (sockets, _, missing) = inner
                .gather(
                    |request_id| Body::FetchSockets { opts, request_id },
                    local,
                    timeout,
                )
                .await;
            Ok(Partial {
                items: sockets,
                missing,
            })
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> JoinFuture {
        self.0.sockets_join(opts, rooms)
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.0.send(
                Destination::Everyone,
                Body::SocketsLeave {
                    opts: opts.clone(),
                    rooms: rooms.to_vec(),
                },
            );
        }
        self.0.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            self.0.send(
                Destination::Everyone,
                Body::DisconnectSockets {
                    opts: opts.clone(),
                    close,
                },
            );
        }
        self.0.local.disconnect_sockets(opts, close);
    }

    fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
        ack_timeout: Option<Duration>,
    ) -> BoxFuture<Result<Partial<Vec<ServerSideAck>>, AdapterError>> {
        let event = event.to_owned();
        let Some(timeout) = ack_timeout else {
            self.0.send(
                Destination::Everyone,
                Body::ServerSideEmit {
                    event,
                    args,
                    request_id: None,
                },
            );
            return Box::pin(async {
                Ok(Partial {
                    items: Vec::new(),
                    missing: 0,
                })
            });
        };
        let inner = self.0.clone();
        Box::pin(async move {
            let body = |request_id| Body::ServerSideEmit {
                event,
                args,
                request_id: Some(request_id),
            };
            let (_, values, missing) = inner.gather(body, Vec::new(), timeout).await;
            Ok(Partial {
                items: values,
                missing,
            })
        })
    }

    fn broadcast_recoverable(&self, packet: Packet, opts: &BroadcastOptions, offset: SmolStr) {
        self.0.broadcast_recoverable(packet, opts, offset);
    }

    fn presence_change(&self, user: &SmolStr, joined: bool) {
        self.0.presence_change(user, joined);
    }

    fn presence(&self) -> Option<&PresenceTable> {
        Some(self.0.local.presence_table())
    }

    fn persist_session(&self, session: SessionState, keep: Duration) {
        self.0.persist_session(session, keep);
    }

    fn return_session(&self, session: SessionState, unsent: Unsent, keep: Duration) {
        self.0.return_session(session, unsent, keep);
    }

    fn new_pid(&self) -> Sid {
        Sid::from(format!("{}.{}", Sid::random(), self.0.cluster.tag))
    }

    fn take_session(&self, pid: Sid, recovery: RecoveryConfig) -> BoxFuture<Option<SessionState>> {
        Box::pin(self.0.clone().take_session(pid, recovery))
    }

    fn missed_packets(
        &self,
        pid: Sid,
        offset: SmolStr,
        rooms: Vec<Room>,
        recovery: RecoveryConfig,
    ) -> BoxFuture<Result<Vec<Packet>, Unrecoverable>> {
        Box::pin(self.0.clone().missed_packets(pid, offset, rooms, recovery))
    }

    fn evict_session(&self, pid: Sid) -> BoxFuture<bool> {
        Box::pin(self.0.clone().evict_session(pid))
    }

    fn held(&self, keep: Duration) -> switchyard_core::AdapterHeld {
        switchyard_core::AdapterHeld {
            recovery_entries: self.0.local.held(keep).recovery_entries + self.0.pinned_entries(),
            pending_requests: self.0.requests.len(),
        }
    }

    fn kept_sessions(&self) -> usize {
        if self.0.cluster.store.is_some() {
            return 0;
        }
        // A session taken by another node still needs this one until that
        // node asked for the packets it missed (its pin is released then).
        let pinned = self.0.pins.lock().len();
        pinned.max(self.0.local.recovery_log().session_count())
    }

    fn server_count(&self) -> BoxFuture<usize> {
        let inner = self.0.clone();
        Box::pin(async move { inner.server_count().await })
    }

    fn close(&self) -> BoxFuture<()> {
        let inner = self.0.clone();
        Box::pin(async move {
            if inner.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            inner.send(Destination::Everyone, Body::AdapterClose);
            inner.cluster.forget(&inner.ns);
            let mut channels = inner.cluster.format.channels(&inner.ns, &inner.cluster.uid);
            channels.extend(inner.room_channels(inner.local.rooms()));
            inner.cluster.unsubscribe(channels);
        })
    }
}
