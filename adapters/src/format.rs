//! `WireFormat`: how cluster messages look on a broker — which channel
//! each goes to, how it is encoded, how nodes are counted. A broker hands
//! out its format, so that naming and encoding are decided in one place.
//!
//! [`NativeFormat`] is Switchyard's own (Node's `ClusterAdapterWithHeartbeat`
//! messages in MessagePack, membership by heartbeat). `switchyard-redis`
//! adds the format of Node's `@socket.io/redis-adapter`.

use crate::broker::channel::{Channel, Delivery, NodeId};
use crate::message::{BroadcastRef, ClusterMessage, MessageError};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_core::Room;

/// Who a message is for.
#[derive(Clone, Copy, Debug)]
pub enum Destination<'a> {
    /// Every node of the namespace (broadcasts and requests).
    Everyone,
    /// Nodes with members in one room (a broadcast to that room).
    Room(&'a Room),
    /// One node (a response).
    Node(&'a NodeId),
}

/// How a format counts the nodes of a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Nodes announce themselves and send heartbeats; silent nodes are dropped.
    Heartbeat,
    /// The broker counts the subscribers of the namespace's request
    /// channel (Node's `serverCount()`, `PUBSUB NUMSUB`).
    RequestSubscribers,
}

/// The look of cluster messages on a broker.
pub trait WireFormat: Send + Sync + 'static {
    /// A name for logs.
    fn name(&self) -> &'static str;

    /// How nodes are counted.
    fn membership(&self) -> Membership;

    /// The channels a namespace's adapter listens on, rooms aside.
    fn channels(&self, ns: &SmolStr, node: &NodeId) -> Vec<Channel>;

    /// Whether a node subscribes to each room it has members in (`false`:
    /// the namespace's subscription covers every room, as Node's pattern
    /// subscription `<key>#<ns>#*` does).
    fn subscribes_rooms(&self) -> bool {
        true
    }

    /// Whether a room has a channel of its own (when the format subscribes
    /// to rooms): Node's sharded adapter gives none to private rooms.
    fn room_has_channel(&self, room: &str) -> bool {
        let _ = room;
        true
    }

    /// Where a message goes and its bytes; `None` when the format has no
    /// such message (Node's format has no heartbeats).
    fn encode(&self, message: &ClusterMessage, to: Destination<'_>) -> Option<(Channel, Bytes)>;

    /// [`Self::encode`] for a broadcast borrowed from its sender (plain,
    /// acknowledged or recoverable), with the same channel and bytes. The
    /// default encodes an owned copy; a format overrides it to write the
    /// bytes without copying the packet.
    fn encode_broadcast(
        &self,
        broadcast: &BroadcastRef<'_>,
        to: Destination<'_>,
    ) -> Option<(Channel, Bytes)> {
        self.encode(&broadcast.to_message(), to)
    }

    /// Reads a message; malformed or foreign bytes are an error.
    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError>;

    /// The node that published a message (the `uid` [`Self::decode`] would
    /// read), peeked without decoding it, so that each publisher's messages
    /// are handled in order while other publishers' are handled alongside.
    /// `None` when the format cannot tell cheaply (the default): such
    /// messages are handled one after the other, in arrival order.
    fn publisher<'a>(&self, delivery: &'a Delivery) -> Option<std::borrow::Cow<'a, str>> {
        let _ = delivery;
        None
    }
}

/// Switchyard's own format: [`ClusterMessage`] in MessagePack on the
/// namespace, room and node channels; membership by heartbeat.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeFormat;

impl WireFormat for NativeFormat {
    fn name(&self) -> &'static str {
        "switchyard"
    }

    fn membership(&self) -> Membership {
        Membership::Heartbeat
    }

    fn channels(&self, ns: &SmolStr, node: &NodeId) -> Vec<Channel> {
        vec![
            Channel::Namespace(ns.clone()),
            Channel::Node {
                ns: ns.clone(),
                node: node.clone(),
            },
        ]
    }

    fn encode(&self, message: &ClusterMessage, to: Destination<'_>) -> Option<(Channel, Bytes)> {
        Some((native_channel(&message.nsp, to), message.encode()))
    }

    fn encode_broadcast(
        &self,
        broadcast: &BroadcastRef<'_>,
        to: Destination<'_>,
    ) -> Option<(Channel, Bytes)> {
        Some((native_channel(broadcast.nsp, to), broadcast.encode()))
    }

    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError> {
        ClusterMessage::decode(&delivery.payload)
    }

    /// The `uid` entry of the message's map.
    fn publisher<'a>(&self, delivery: &'a Delivery) -> Option<std::borrow::Cow<'a, str>> {
        peek::map_str(&delivery.payload, "uid")
            .ok()
            .flatten()
            .map(std::borrow::Cow::Borrowed)
    }
}

/// The channel of the native format for a message of namespace `ns`.
fn native_channel(ns: &SmolStr, to: Destination<'_>) -> Channel {
    let ns = ns.clone();
    match to {
        Destination::Everyone => Channel::Namespace(ns),
        Destination::Room(room) => Channel::Room {
            ns,
            room: room.clone(),
        },
        Destination::Node(node) => Channel::Node {
            ns,
            node: node.clone(),
        },
    }
}

pub mod peek;
