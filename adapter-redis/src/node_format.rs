//! The wire format of Node's `@socket.io/redis-adapter` 8.x (classic
//! pub/sub) and `@socket.io/redis-emitter` 5.x, so that Switchyard and
//! Node.js servers are members of one cluster.
//!
//! - Broadcasts: MessagePack `[uid, packet, opts]` on the broadcast channel
//!   (or the room channel when exactly one room is targeted).
//! - Requests on the request channel: JSON `{uid, requestId?, type, …}`,
//!   except acknowledged broadcasts (type 7), which are MessagePack maps.
//!   Emitters send no uid.
//! - Responses on the shared response channel (or the requester's own with
//!   `publishOnSpecificResponseChannel`): JSON, except broadcast acks
//!   (type 9). They carry no uid: requests count answers.
//! - No heartbeats: servers are counted with `PUBSUB NUMSUB` on the request
//!   channel. Switchyard nodes still send each other heartbeats and
//!   presence, in their own encoding, on `<key>-switchyard#<ns>#`, which
//!   Node's servers never hear.

use crate::channels::{RedisFormat, name};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::message::{BroadcastRef, ClusterMessage, MessageError};
use switchyard_cluster::{Channel, Delivery, Destination, Membership, NodeId, WireFormat};

/// Node's request types.
const SOCKETS: u64 = 0;
const ALL_ROOMS: u64 = 1;
const REMOTE_JOIN: u64 = 2;
const REMOTE_LEAVE: u64 = 3;
const REMOTE_DISCONNECT: u64 = 4;
const REMOTE_FETCH: u64 = 5;
const SERVER_SIDE_EMIT: u64 = 6;
const BROADCAST: u64 = 7;
const BROADCAST_CLIENT_COUNT: u64 = 8;
const BROADCAST_ACK: u64 = 9;

/// Node's Redis adapter format, for one key (prefix).
#[derive(Clone, Debug)]
pub struct NodeFormat {
    prefix: String,
    /// Answer on the requester's own response channel.
    specific_responses: bool,
}

impl NodeFormat {
    /// The format for channels prefixed by `prefix` (Node's `key`).
    pub fn new(prefix: impl Into<String>, specific_responses: bool) -> Self {
        NodeFormat {
            prefix: prefix.into(),
            specific_responses,
        }
    }

    fn response_channel(&self, ns: &SmolStr, to: Destination<'_>) -> Channel {
        match to {
            Destination::Node(node) if self.specific_responses => Channel::Node {
                ns: ns.clone(),
                node: node.clone(),
            },
            _ => Channel::Responses(ns.clone()),
        }
    }

    /// What follows `<prefix>-<kind>#` in `channel` (`<prefix>#` when
    /// `kind` is empty), matched without building the prefix: every
    /// delivery is matched so.
    fn after<'c>(&self, channel: &'c str, kind: &str) -> Option<&'c str> {
        let rest = channel.strip_prefix(self.prefix.as_str())?;
        let rest = match kind {
            "" => rest,
            _ => rest.strip_prefix('-')?.strip_prefix(kind)?,
        };
        rest.strip_prefix('#')
    }

    /// The namespace a request or response channel belongs to.
    fn namespace_of(&self, channel: &str, kind: &str) -> Option<SmolStr> {
        let rest = self.after(channel, kind)?.strip_suffix('#')?;
        // `<ns>` or, for a node's own responses, `<ns>#<uid>`.
        let ns = match rest.rfind('#') {
            Some(at) if !rest[at + 1..].starts_with('/') => &rest[..at],
            _ => rest,
        };
        Some(SmolStr::new(ns))
    }
}

fn invalid(what: impl Into<String>) -> MessageError {
    MessageError::Invalid(what.into())
}

impl WireFormat for NodeFormat {
    fn name(&self) -> &'static str {
        "node-redis-adapter"
    }

    fn membership(&self) -> Membership {
        Membership::RequestSubscribers
    }

    /// Like Node's servers, listen to every room by pattern: a broadcast
    /// right after a `socketsJoin` from the same publisher then arrives
    /// after it, whichever rooms this node had.
    fn subscribes_rooms(&self) -> bool {
        false
    }

    fn channels(&self, ns: &SmolStr, node: &NodeId) -> Vec<Channel> {
        vec![
            Channel::Namespace(ns.clone()),
            Channel::Requests(ns.clone()),
            Channel::Responses(ns.clone()),
            Channel::Node {
                ns: ns.clone(),
                node: node.clone(),
            },
            Channel::Switchyard(ns.clone()),
        ]
    }

    fn encode(&self, message: &ClusterMessage, to: Destination<'_>) -> Option<(Channel, Bytes)> {
        encode::encode(self, message, to)
    }

    fn encode_broadcast(
        &self,
        broadcast: &BroadcastRef<'_>,
        to: Destination<'_>,
    ) -> Option<(Channel, Bytes)> {
        Some(encode_broadcast::encode_broadcast(broadcast, to, BROADCAST))
    }

    fn publisher<'a>(&self, delivery: &'a Delivery) -> Option<std::borrow::Cow<'a, str>> {
        self.publisher_of(delivery)
    }

    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError> {
        let channel = delivery.channel.as_str();
        if self.after(channel, "switchyard").is_some() {
            return ClusterMessage::decode(&delivery.payload);
        }
        if let Some(ns) = self.namespace_of(channel, "request") {
            return decode::decode_request(ns, decode::parse(&delivery.payload)?);
        }
        if let Some(ns) = self.namespace_of(channel, "response") {
            return decode::decode_response(ns, decode::parse(&delivery.payload)?);
        }
        if self.after(channel, "").is_some() {
            return decode::decode_broadcast(&delivery.payload);
        }
        Err(invalid(format!(
            "channel {channel} is not the Node adapter's (key {})",
            self.prefix
        )))
    }
}

mod decode;
mod encode;
mod encode_broadcast;
mod publisher;

#[cfg(test)]
mod decode_broadcast_tests;
#[cfg(test)]
mod encode_broadcast_tests;
#[cfg(test)]
mod encode_tests;
#[cfg(test)]
mod tests;

/// For tests and for naming: the broker channel of a cluster channel.
pub fn channel_name(prefix: &str, channel: &Channel) -> String {
    name(prefix, RedisFormat::Node, channel)
}
