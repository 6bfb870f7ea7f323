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
use switchyard_cluster::message::{Body, ClusterMessage, MessageError, RequestId, packet_to_value};
use switchyard_cluster::{Channel, Delivery, Destination, Membership, NodeId, WireFormat};
use switchyard_core::protocol::PacketKind;
use switchyard_core::value::{Map, to_msgpack};
use switchyard_core::{BroadcastOptions, Room, Value, to_value};

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

    /// The namespace a request or response channel belongs to.
    fn namespace_of(&self, channel: &str, kind: &str) -> Option<SmolStr> {
        let rest = channel
            .strip_prefix(&format!("{}-{kind}#", self.prefix))?
            .strip_suffix('#')?;
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

fn object(entries: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in entries {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

/// Node's `opts` for requests: rooms and except only.
fn request_opts(opts: &BroadcastOptions) -> Value {
    let rooms = |r: &[Room]| Value::Array(r.iter().map(|r| Value::from(r.as_str())).collect());
    object(vec![
        ("rooms", rooms(&opts.rooms)),
        ("except", rooms(&opts.except)),
    ])
}

/// A broadcast `[uid, packet, opts]`, on the room's channel when it
/// targets one room.
fn broadcast(
    ns: &SmolStr,
    uid: Value,
    packet: Value,
    opts: Value,
    to: Destination<'_>,
) -> (Channel, Bytes) {
    let channel = match to {
        Destination::Room(room) => Channel::Room {
            ns: ns.clone(),
            room: room.clone(),
        },
        _ => Channel::Namespace(ns.clone()),
    };
    (channel, msgpack(&Value::Array(vec![uid, packet, opts])))
}

fn json(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn msgpack(value: &Value) -> Bytes {
    Bytes::from(to_msgpack(value))
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
        let ns = &message.nsp;
        let uid = Value::from(message.uid.as_str());
        let request = Channel::Requests(ns.clone());
        let id = |r: &RequestId| Value::from(r.as_str());
        Some(match &message.body {
            // Only Switchyard nodes say these, on a channel of their own.
            Body::InitialHeartbeat
            | Body::Heartbeat
            | Body::AdapterClose
            | Body::PresenceUpdate { .. }
            | Body::PresenceSnapshot { .. }
            | Body::NodeAddress { .. } => (Channel::Switchyard(ns.clone()), message.encode()),
            Body::Broadcast {
                packet,
                opts,
                request_id: None,
            } => broadcast(ns, uid, packet_to_value(packet), to_value(opts).ok()?, to),
            // Node's servers deliver what they get: the offset rides in
            // `opts`, for Switchyard nodes to put back.
            Body::RecoverableBroadcast {
                packet,
                opts,
                offset,
            } => {
                let mut packet = packet.clone();
                if let PacketKind::Event { args, .. } = &mut packet.kind
                    && args.last().and_then(Value::as_str) == Some(offset.as_str())
                {
                    args.pop();
                }
                let Value::Object(mut opts) = to_value(opts).ok()? else {
                    return None;
                };
                opts.insert("offset".into(), Value::from(offset.as_str()));
                broadcast(ns, uid, packet_to_value(&packet), Value::Object(opts), to)
            }
            // Redis keeps recovery data itself: no node is asked.
            // Recovery between Switchyard nodes (Node's servers have none):
            // on their own channel, every Switchyard node hears it.
            Body::RestoreSession { .. }
            | Body::RestoreSessionResponse { .. }
            | Body::TakeSession { .. }
            | Body::MissedSince { .. }
            | Body::EvictSession { .. } => (Channel::Switchyard(ns.clone()), message.encode()),
            // Node's servers never answer a join: it is sent unconfirmed.
            Body::SocketsJoinConfirmed { .. } | Body::JoinConfirmation { .. } => return None,
            Body::Broadcast {
                packet,
                opts,
                request_id: Some(r),
            } => {
                let body = object(vec![
                    ("uid", uid),
                    ("requestId", id(r)),
                    ("type", Value::from(BROADCAST)),
                    ("packet", packet_to_value(packet)),
                    ("opts", to_value(opts).ok()?),
                ]);
                (request, msgpack(&body))
            }
            Body::SocketsJoin { opts, rooms } | Body::SocketsLeave { opts, rooms } => {
                let kind = if matches!(message.body, Body::SocketsJoin { .. }) {
                    REMOTE_JOIN
                } else {
                    REMOTE_LEAVE
                };
                let rooms = Value::Array(rooms.iter().map(|r| Value::from(r.as_str())).collect());
                let body = object(vec![
                    ("uid", uid),
                    ("type", Value::from(kind)),
                    ("opts", request_opts(opts)),
                    ("rooms", rooms),
                ]);
                (request, json(&body))
            }
            Body::DisconnectSockets { opts, close } => {
                let body = object(vec![
                    ("uid", uid),
                    ("type", Value::from(REMOTE_DISCONNECT)),
                    ("opts", request_opts(opts)),
                    ("close", Value::from(*close)),
                ]);
                (request, json(&body))
            }
            Body::FetchSockets { opts, request_id } => {
                let body = object(vec![
                    ("uid", uid),
                    ("requestId", id(request_id)),
                    ("type", Value::from(REMOTE_FETCH)),
                    ("opts", request_opts(opts)),
                ]);
                (request, json(&body))
            }
            Body::ServerSideEmit {
                event,
                args,
                request_id,
            } => {
                let mut data = vec![Value::from(event.as_str())];
                data.extend(args.iter().cloned());
                let mut entries = vec![
                    ("uid", uid),
                    ("type", Value::from(SERVER_SIDE_EMIT)),
                    ("data", Value::Array(data)),
                ];
                if let Some(r) = request_id {
                    entries.push(("requestId", id(r)));
                }
                (request, json(&object(entries)))
            }
            Body::Sockets { rooms, request_id } => {
                let rooms = Value::Array(rooms.iter().map(|r| Value::from(r.as_str())).collect());
                let body = object(vec![
                    ("uid", uid),
                    ("requestId", id(request_id)),
                    ("type", Value::from(SOCKETS)),
                    ("rooms", rooms),
                ]);
                (request, json(&body))
            }
            Body::AllRooms { request_id } => {
                let body = object(vec![
                    ("uid", uid),
                    ("requestId", id(request_id)),
                    ("type", Value::from(ALL_ROOMS)),
                ]);
                (request, json(&body))
            }
            Body::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                let body = object(vec![
                    ("requestId", id(request_id)),
                    ("sockets", to_value(sockets).ok()?),
                ]);
                (self.response_channel(ns, to), json(&body))
            }
            Body::SocketsResponse { request_id, ids } => {
                let ids = Value::Array(ids.iter().map(|s| Value::from(s.as_str())).collect());
                (
                    self.response_channel(ns, to),
                    json(&object(vec![
                        ("requestId", id(request_id)),
                        ("sockets", ids),
                    ])),
                )
            }
            Body::AllRoomsResponse { request_id, rooms } => {
                let rooms = Value::Array(rooms.iter().map(|r| Value::from(r.as_str())).collect());
                (
                    self.response_channel(ns, to),
                    json(&object(vec![
                        ("requestId", id(request_id)),
                        ("rooms", rooms),
                    ])),
                )
            }
            Body::ServerSideEmitResponse { request_id, value } => {
                // Node always answers these on the shared response channel.
                let body = object(vec![
                    ("type", Value::from(SERVER_SIDE_EMIT)),
                    ("requestId", id(request_id)),
                    ("data", value.clone()),
                ]);
                (Channel::Responses(ns.clone()), json(&body))
            }
            Body::BroadcastClientCount { request_id, count } => {
                let body = object(vec![
                    ("type", Value::from(BROADCAST_CLIENT_COUNT)),
                    ("requestId", id(request_id)),
                    ("clientCount", Value::from(*count)),
                ]);
                (self.response_channel(ns, to), json(&body))
            }
            Body::BroadcastAck { request_id, value } => {
                let body = object(vec![
                    ("type", Value::from(BROADCAST_ACK)),
                    ("requestId", id(request_id)),
                    ("packet", value.clone()),
                ]);
                (self.response_channel(ns, to), msgpack(&body))
            }
        })
    }

    fn decode(&self, delivery: &Delivery) -> Result<ClusterMessage, MessageError> {
        let channel = delivery.channel.as_str();
        if channel.starts_with(&format!("{}-switchyard#", self.prefix)) {
            return ClusterMessage::decode(&delivery.payload);
        }
        if let Some(ns) = self.namespace_of(channel, "request") {
            return decode::decode_request(ns, decode::parse(&delivery.payload)?);
        }
        if let Some(ns) = self.namespace_of(channel, "response") {
            return decode::decode_response(ns, decode::parse(&delivery.payload)?);
        }
        if channel.starts_with(&format!("{}#", self.prefix)) {
            return decode::decode_broadcast(&delivery.payload);
        }
        Err(invalid(format!(
            "channel {channel} is not the Node adapter's (key {})",
            self.prefix
        )))
    }
}

mod decode;

#[cfg(test)]
mod encode_tests;
#[cfg(test)]
mod tests;

/// For tests and for naming: the broker channel of a cluster channel.
pub fn channel_name(prefix: &str, channel: &Channel) -> String {
    name(prefix, RedisFormat::Node, channel)
}
