//! What a node does with another node's message.

use super::inner::AdapterInner;
use crate::broker::NodeId;
use crate::format::{Destination, Membership};
use crate::message::{Body, ClusterMessage, EMITTER_UID, RequestId};
use std::sync::Arc;
use std::time::Instant;
use switchyard_core::adapter::AckEvent;
use switchyard_core::protocol::Packet;
use switchyard_core::{Adapter, BroadcastOptions, Room, ServerAck, Value};
use tokio::sync::mpsc;

impl AdapterInner {
    /// Handles a message from another node (in arrival order).
    pub(crate) fn on_message(self: &Arc<Self>, message: ClusterMessage) {
        let from = message.uid;
        self.hear_from(&from, &message.body);
        match message.body {
            Body::InitialHeartbeat => self.send(Destination::Everyone, Body::Heartbeat),
            Body::Heartbeat => {}
            Body::AdapterClose => {
                tracing::info!(ns = %self.ns, node = %from, "node left");
                self.node_left(&from);
            }
            Body::Broadcast {
                packet,
                opts,
                request_id: None,
            } => self.local.broadcast(packet, &opts),
            Body::Broadcast {
                packet,
                opts,
                request_id: Some(id),
            } => self.answer_broadcast_with_ack(from, id, packet, opts),
            Body::RecoverableBroadcast {
                packet,
                opts,
                offset,
            } => self.deliver_recoverable(packet, &opts, offset),
            Body::RestoreSession {
                pid,
                offset,
                request_id,
            } => self.answer_restore(&from, request_id, &pid, &offset),
            Body::TakeSession { pid, request_id } => self.answer_take(&from, request_id, &pid),
            Body::EvictSession { pid, request_id } => {
                self.answer_evict(from.clone(), request_id, pid)
            }
            Body::MissedSince {
                pid,
                offset,
                rooms,
                request_id,
            } => self.answer_missed(&from, request_id, &pid, &offset, &rooms),
            Body::SocketsJoinConfirmed {
                opts,
                rooms,
                request_id,
            } => self.answer_sockets_join(from.clone(), request_id, opts, rooms),
            Body::PresenceUpdate { user, count } => self.presence_update(&from, &user, count),
            Body::PresenceSnapshot { users } => self.presence_snapshot(&from, users),
            Body::NodeAddress { tag, address } => {
                self.cluster.directory.announce(tag, address, from.clone())
            }
            Body::SocketsJoin { opts, rooms } => {
                // Unconfirmed: nobody waits for it.
                drop(self.local.add_sockets(&opts, &rooms));
            }
            Body::SocketsLeave { opts, rooms } => self.local.del_sockets(&opts, &rooms),
            Body::DisconnectSockets { opts, close } => self.local.disconnect_sockets(&opts, close),
            Body::FetchSockets { opts, request_id } => self.answer_fetch(&from, request_id, &opts),
            Body::Sockets { rooms, request_id } => self.answer_sockets(&from, request_id, rooms),
            Body::AllRooms { request_id } => self.answer_all_rooms(&from, request_id),
            Body::ServerSideEmit {
                event,
                args,
                request_id,
            } => self.on_server_side_emit(&from, &event, args, request_id),
            body @ (Body::FetchSocketsResponse { .. }
            | Body::ServerSideEmitResponse { .. }
            | Body::BroadcastClientCount { .. }
            | Body::BroadcastAck { .. }
            | Body::JoinConfirmation { .. }
            | Body::RestoreSessionResponse { .. }) => self.requests.respond(&from, body),
            // Answers to requests this node does not make.
            Body::SocketsResponse { .. } | Body::AllRoomsResponse { .. } => {}
        }
    }

    /// Notes that `from` is alive when `body` proves it (see `on_message`);
    /// a node heard for the first time gets this node's presence table and
    /// address.
    fn hear_from(&self, from: &NodeId, body: &Body) {
        // Any message proves a node alive in a heartbeat format; in Node's
        // only the messages Switchyard nodes exchange among themselves do
        // (Node's servers send no heartbeats).
        let proves_a_node = self.cluster.format.membership() == Membership::Heartbeat
            || matches!(
                body,
                Body::InitialHeartbeat
                    | Body::Heartbeat
                    | Body::PresenceUpdate { .. }
                    | Body::PresenceSnapshot { .. }
                    | Body::NodeAddress { .. }
            );
        if proves_a_node && !from.is_empty() && from != EMITTER_UID {
            let new = {
                let mut nodes = self.nodes.lock();
                match nodes.get_mut(from) {
                    Some(seen) => {
                        *seen = Instant::now();
                        false
                    }
                    // A node that said goodbye is gone for good (node ids
                    // are made anew for each process): what it sent before
                    // leaving may still arrive on another channel.
                    None if self.has_departed(from) || matches!(body, Body::AdapterClose) => false,
                    None => {
                        nodes.insert(from.clone(), Instant::now());
                        true
                    }
                }
            };
            if new {
                tracing::info!(ns = %self.ns, node = %from, "node joined");
                // It may not know who is online here, nor where this node
                // listens (it just started, or dropped this node during an
                // outage).
                self.send_presence_snapshot();
                self.announce_address(true);
            }
        }
    }

    /// Another node fetches the sockets matching `opts`.
    fn answer_fetch(&self, from: &NodeId, request_id: RequestId, opts: &BroadcastOptions) {
        let sockets = self.local.fetch_local(opts);
        self.send(
            Destination::Node(from),
            Body::FetchSocketsResponse {
                request_id,
                sockets,
            },
        );
    }

    /// Another node asks for the ids of the sockets in `rooms` (all: empty).
    fn answer_sockets(&self, from: &NodeId, request_id: RequestId, rooms: Vec<Room>) {
        let opts = BroadcastOptions {
            rooms,
            ..Default::default()
        };
        let ids = self
            .local
            .target_ids(&opts)
            .iter()
            .map(ToString::to_string)
            .collect();
        self.send(
            Destination::Node(from),
            Body::SocketsResponse { request_id, ids },
        );
    }

    /// Another node asks for the rooms with members here.
    fn answer_all_rooms(&self, from: &NodeId, request_id: RequestId) {
        let rooms = self.local.rooms();
        self.send(
            Destination::Node(from),
            Body::AllRoomsResponse { request_id, rooms },
        );
    }

    /// Another node's server-side emit: run this namespace's handler, with
    /// an acknowledgement that answers that node when it waits for one.
    fn on_server_side_emit(
        self: &Arc<Self>,
        from: &NodeId,
        event: &str,
        args: Vec<Value>,
        request_id: Option<RequestId>,
    ) {
        let ack = request_id.map(|request_id| {
            let inner = self.clone();
            let to = from.clone();
            ServerAck::new(move |value| {
                inner.send(
                    Destination::Node(&to),
                    Body::ServerSideEmitResponse { request_id, value },
                )
            })
        });
        if !self.local.dispatch_server_event(event, args, ack) {
            tracing::debug!(ns = %self.ns, %event, "no handler for a server-side event");
        }
    }

    /// Another node's broadcast with acks: deliver, report how many clients
    /// got it, then forward each client's answer to that node.
    fn answer_broadcast_with_ack(
        self: &Arc<Self>,
        from: NodeId,
        request_id: RequestId,
        packet: Packet,
        opts: BroadcastOptions,
    ) {
        let (answers, mut forward) = mpsc::unbounded_channel();
        let count = self.local.broadcast_with_ack_to(packet, &opts, &answers);
        drop(answers);
        self.send(
            Destination::Node(&from),
            Body::BroadcastClientCount {
                request_id: request_id.clone(),
                count: count as u64,
            },
        );
        if count == 0 {
            return;
        }
        let timeout = opts
            .flags
            .timeout
            .unwrap_or(self.cluster.config.request_timeout);
        let inner = self.clone();
        self.cluster.runtime.spawn(async move {
            let _ = tokio::time::timeout(timeout, async {
                while let Some(event) = forward.recv().await {
                    if let AckEvent::Response(value) = event {
                        inner.send(
                            Destination::Node(&from),
                            Body::BroadcastAck {
                                request_id: request_id.clone(),
                                value,
                            },
                        );
                    }
                }
            })
            .await;
        });
    }
}
