//! Where cluster messages travel: node ids, the logical [`Channel`]s a
//! broker publishes to, and the [`Delivery`] of what arrived.

use bytes::Bytes;
use smol_str::SmolStr;
use std::fmt;
use switchyard_core::Room;

/// A node id: 16 hexadecimal characters, random per process.
pub type NodeId = SmolStr;

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Every node serving a namespace: broadcasts and requests.
    Namespace(SmolStr),
    /// Nodes with local members in one room of a namespace.
    Room {
        /// The namespace.
        ns: SmolStr,
        /// The room.
        room: Room,
    },
    /// One node, in one namespace: responses to its requests.
    Node {
        /// The namespace.
        ns: SmolStr,
        /// The node.
        node: NodeId,
    },
    /// Requests to every node of a namespace, for formats that keep them
    /// apart from broadcasts (Node's Redis adapter).
    Requests(SmolStr),
    /// Responses every node of a namespace hears (Node's Redis adapter).
    Responses(SmolStr),
    /// Messages only Switchyard nodes exchange (heartbeats, presence), for
    /// formats that keep them apart from other servers (Node's).
    Switchyard(SmolStr),
}

impl Channel {
    /// The namespace the channel belongs to.
    pub fn namespace(&self) -> &SmolStr {
        match self {
            Channel::Namespace(ns)
            | Channel::Room { ns, .. }
            | Channel::Node { ns, .. }
            | Channel::Requests(ns)
            | Channel::Responses(ns)
            | Channel::Switchyard(ns) => ns,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Namespace(ns) => write!(f, "{ns}"),
            Channel::Room { ns, room } => write!(f, "{ns} room {room}"),
            Channel::Node { ns, node } => write!(f, "{ns} node {node}"),
            Channel::Requests(ns) => write!(f, "{ns} requests"),
            Channel::Responses(ns) => write!(f, "{ns} responses"),
            Channel::Switchyard(ns) => write!(f, "{ns} switchyard"),
        }
    }
}

/// A message received from the broker.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The broker's name for the channel it arrived on (for logs).
    pub channel: String,
    /// The message.
    pub payload: Bytes,
}
