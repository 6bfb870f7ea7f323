//! Writing the Node adapter's messages: broadcasts (MessagePack), requests
//! and responses (JSON, or MessagePack for acknowledged broadcasts and
//! their acks), on the channel Node sends each of them to. What only
//! Switchyard nodes say goes, in their own encoding, on their own channel.

use super::{
    ALL_ROOMS, BROADCAST, BROADCAST_ACK, BROADCAST_CLIENT_COUNT, NodeFormat, REMOTE_DISCONNECT,
    REMOTE_FETCH, REMOTE_JOIN, REMOTE_LEAVE, SERVER_SIDE_EMIT, SOCKETS,
};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::message::{Body, ClusterMessage, RequestId, packet_to_value};
use switchyard_cluster::{Channel, Destination};
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::value::{Map, to_msgpack};
use switchyard_core::{BroadcastOptions, Room, Value, to_value};

/// `message` in Node's format and the channel it goes on; `None` for what
/// Node's servers never hear (join confirmations).
pub(super) fn encode(
    format: &NodeFormat,
    message: &ClusterMessage,
    to: Destination<'_>,
) -> Option<(Channel, Bytes)> {
    let ns = &message.nsp;
    let uid = Value::from(message.uid.as_str());
    match &message.body {
        // Only Switchyard nodes say these, on a channel of their own.
        Body::InitialHeartbeat
        | Body::Heartbeat
        | Body::AdapterClose
        | Body::PresenceUpdate { .. }
        | Body::PresenceSnapshot { .. }
        | Body::NodeAddress { .. } => Some((Channel::Switchyard(ns.clone()), message.encode())),
        Body::Broadcast {
            packet,
            opts,
            request_id: None,
        } => Some(broadcast(
            ns,
            uid,
            packet_to_value(packet),
            to_value(opts).ok()?,
            to,
        )),
        Body::RecoverableBroadcast {
            packet,
            opts,
            offset,
        } => recoverable_broadcast(ns, uid, packet, opts, offset, to),
        // Redis keeps recovery data itself: no node is asked.
        // Recovery between Switchyard nodes (Node's servers have none):
        // on their own channel, every Switchyard node hears it.
        Body::RestoreSession { .. }
        | Body::RestoreSessionResponse { .. }
        | Body::TakeSession { .. }
        | Body::MissedSince { .. }
        | Body::EvictSession { .. } => Some((Channel::Switchyard(ns.clone()), message.encode())),
        // Node's servers never answer a join: it is sent unconfirmed.
        Body::SocketsJoinConfirmed { .. } | Body::JoinConfirmation { .. } => None,
        Body::Broadcast {
            request_id: Some(_),
            ..
        }
        | Body::SocketsJoin { .. }
        | Body::SocketsLeave { .. }
        | Body::DisconnectSockets { .. }
        | Body::FetchSockets { .. }
        | Body::ServerSideEmit { .. }
        | Body::Sockets { .. }
        | Body::AllRooms { .. } => {
            Some((Channel::Requests(ns.clone()), request(uid, &message.body)?))
        }
        Body::FetchSocketsResponse { .. }
        | Body::SocketsResponse { .. }
        | Body::AllRoomsResponse { .. }
        | Body::ServerSideEmitResponse { .. }
        | Body::BroadcastClientCount { .. }
        | Body::BroadcastAck { .. } => response(format, ns, &message.body, to),
    }
}

fn id(r: &RequestId) -> Value {
    Value::from(r.as_str())
}

fn object(entries: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in entries {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

fn strings<'a>(items: impl Iterator<Item = &'a str>) -> Value {
    Value::Array(items.map(Value::from).collect())
}

fn room_names(rooms: &[Room]) -> Value {
    strings(rooms.iter().map(Room::as_str))
}

/// Node's `opts` for requests: rooms and except only.
fn request_opts(opts: &BroadcastOptions) -> Value {
    object(vec![
        ("rooms", room_names(&opts.rooms)),
        ("except", room_names(&opts.except)),
    ])
}

fn json(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn msgpack(value: &Value) -> Bytes {
    Bytes::from(to_msgpack(value))
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

/// Node's servers deliver what they get: the offset rides in `opts`, for
/// Switchyard nodes to put back.
fn recoverable_broadcast(
    ns: &SmolStr,
    uid: Value,
    packet: &Packet,
    opts: &BroadcastOptions,
    offset: &SmolStr,
    to: Destination<'_>,
) -> Option<(Channel, Bytes)> {
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
    Some(broadcast(
        ns,
        uid,
        packet_to_value(&packet),
        Value::Object(opts),
        to,
    ))
}

/// A request for the request channel: JSON, but MessagePack for an
/// acknowledged broadcast. `None` for a body that is not a request.
fn request(uid: Value, body: &Body) -> Option<Bytes> {
    Some(match body {
        Body::Broadcast {
            packet,
            opts,
            request_id: Some(r),
        } => msgpack(&object(vec![
            ("uid", uid),
            ("requestId", id(r)),
            ("type", Value::from(BROADCAST)),
            ("packet", packet_to_value(packet)),
            ("opts", to_value(opts).ok()?),
        ])),
        Body::SocketsJoin { opts, rooms } => json(&rooms_request(uid, REMOTE_JOIN, opts, rooms)),
        Body::SocketsLeave { opts, rooms } => json(&rooms_request(uid, REMOTE_LEAVE, opts, rooms)),
        Body::DisconnectSockets { opts, close } => json(&object(vec![
            ("uid", uid),
            ("type", Value::from(REMOTE_DISCONNECT)),
            ("opts", request_opts(opts)),
            ("close", Value::from(*close)),
        ])),
        Body::FetchSockets { opts, request_id } => json(&object(vec![
            ("uid", uid),
            ("requestId", id(request_id)),
            ("type", Value::from(REMOTE_FETCH)),
            ("opts", request_opts(opts)),
        ])),
        Body::ServerSideEmit {
            event,
            args,
            request_id,
        } => json(&server_side_emit(uid, event, args, request_id.as_ref())),
        Body::Sockets { rooms, request_id } => json(&object(vec![
            ("uid", uid),
            ("requestId", id(request_id)),
            ("type", Value::from(SOCKETS)),
            ("rooms", room_names(rooms)),
        ])),
        Body::AllRooms { request_id } => json(&object(vec![
            ("uid", uid),
            ("requestId", id(request_id)),
            ("type", Value::from(ALL_ROOMS)),
        ])),
        _ => return None,
    })
}

/// A join (`kind` [`REMOTE_JOIN`]) or leave ([`REMOTE_LEAVE`]) request.
fn rooms_request(uid: Value, kind: u64, opts: &BroadcastOptions, rooms: &[Room]) -> Value {
    object(vec![
        ("uid", uid),
        ("type", Value::from(kind)),
        ("opts", request_opts(opts)),
        ("rooms", room_names(rooms)),
    ])
}

/// A server-side emit: the event name first in `data`, then its arguments.
fn server_side_emit(
    uid: Value,
    event: &str,
    args: &[Value],
    request_id: Option<&RequestId>,
) -> Value {
    let mut data = vec![Value::from(event)];
    data.extend(args.iter().cloned());
    let mut entries = vec![
        ("uid", uid),
        ("type", Value::from(SERVER_SIDE_EMIT)),
        ("data", Value::Array(data)),
    ];
    if let Some(r) = request_id {
        entries.push(("requestId", id(r)));
    }
    object(entries)
}

/// A response, without a uid: JSON, but MessagePack for a broadcast ack.
/// `None` for a body that is not a response.
fn response(
    format: &NodeFormat,
    ns: &SmolStr,
    body: &Body,
    to: Destination<'_>,
) -> Option<(Channel, Bytes)> {
    let channel = format.response_channel(ns, to);
    Some(match body {
        Body::FetchSocketsResponse {
            request_id,
            sockets,
        } => (
            channel,
            json(&object(vec![
                ("requestId", id(request_id)),
                ("sockets", to_value(sockets).ok()?),
            ])),
        ),
        Body::SocketsResponse { request_id, ids } => (
            channel,
            json(&object(vec![
                ("requestId", id(request_id)),
                ("sockets", strings(ids.iter().map(|s| s.as_str()))),
            ])),
        ),
        Body::AllRoomsResponse { request_id, rooms } => (
            channel,
            json(&object(vec![
                ("requestId", id(request_id)),
                ("rooms", room_names(rooms)),
            ])),
        ),
        // Node always answers these on the shared response channel.
        Body::ServerSideEmitResponse { request_id, value } => (
            Channel::Responses(ns.clone()),
            json(&object(vec![
                ("type", Value::from(SERVER_SIDE_EMIT)),
                ("requestId", id(request_id)),
                ("data", value.clone()),
            ])),
        ),
        Body::BroadcastClientCount { request_id, count } => (
            channel,
            json(&object(vec![
                ("type", Value::from(BROADCAST_CLIENT_COUNT)),
                ("requestId", id(request_id)),
                ("clientCount", Value::from(*count)),
            ])),
        ),
        Body::BroadcastAck { request_id, value } => (
            channel,
            msgpack(&object(vec![
                ("type", Value::from(BROADCAST_ACK)),
                ("requestId", id(request_id)),
                ("packet", value.clone()),
            ])),
        ),
        _ => return None,
    })
}
