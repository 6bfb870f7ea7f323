//! Reading the Node adapter's messages: broadcasts (MessagePack), requests
//! and responses (JSON, or MessagePack for acknowledged broadcasts and
//! their acks). Anything malformed or of an unknown kind is an error.

use super::{
    ALL_ROOMS, BROADCAST, BROADCAST_ACK, BROADCAST_CLIENT_COUNT, REMOTE_DISCONNECT, REMOTE_FETCH,
    REMOTE_JOIN, REMOTE_LEAVE, SERVER_SIDE_EMIT, SOCKETS, invalid,
};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::NodeId;
use switchyard_cluster::message::{
    Body, ClusterMessage, EMITTER_UID, MessageError, RequestId, packet_from_value,
};
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::value::msgpack::Reader;
use switchyard_core::value::{Map, from_msgpack};
use switchyard_core::{BroadcastOptions, Room, Value, from_value};

/// JSON when the first byte is `{`, else MessagePack (as Node decides).
pub(super) fn parse(payload: &Bytes) -> Result<Value, MessageError> {
    if payload.first() == Some(&b'{') {
        serde_json::from_slice::<Value>(payload).map_err(|e| invalid(format!("JSON: {e}")))
    } else {
        from_msgpack(payload)?.ok_or_else(|| invalid("undefined"))
    }
}

/// A broadcast, `[uid, packet, opts]`: read straight into its packet and
/// options when it is in the shape Node and Switchyard write, else (or on
/// anything unexpected) through a `Value` tree, which decides.
pub(super) fn decode_broadcast(payload: &Bytes) -> Result<ClusterMessage, MessageError> {
    match broadcast_fast(payload) {
        Some(message) => Ok(message),
        None => decode_broadcast_tree(payload),
    }
}

/// The fast path of [`decode_broadcast`]: `None` when `payload` leaves
/// the shape it reads.
pub(super) fn broadcast_fast(payload: &Bytes) -> Option<ClusterMessage> {
    let mut reader = Reader::new(payload);
    if reader.array_len().ok()? != 3 {
        return None;
    }
    let uid = NodeId::new(reader.str().ok()?);
    let packet = ClusterMessage::read_event(&mut reader)?;
    let (opts, offset) = ClusterMessage::read_opts(&mut reader, Some("offset"))?;
    reader.finish().ok()?;
    let nsp = packet.ns.clone();
    Some(ClusterMessage {
        uid,
        nsp,
        body: broadcast_body(packet, opts, offset),
    })
}

/// A broadcast through a `Value` tree of it: any shape, and the reference
/// the fast path agrees with.
pub(super) fn decode_broadcast_tree(payload: &Bytes) -> Result<ClusterMessage, MessageError> {
    let Some(Value::Array(parts)) = from_msgpack(payload)? else {
        return Err(invalid("a broadcast is [uid, packet, opts]"));
    };
    let [uid, packet, opts] =
        <[Value; 3]>::try_from(parts).map_err(|_| invalid("a broadcast has three parts"))?;
    let uid = match uid {
        Value::String(s) => NodeId::from(s),
        _ => return Err(invalid("broadcast uid")),
    };
    let nsp = SmolStr::new(packet.get("nsp").and_then(Value::as_str).unwrap_or("/"));
    let packet = packet_from_value(packet, &nsp)?;
    let mut opts = opts;
    let offset = match &mut opts {
        Value::Object(map) => match map.swap_remove("offset") {
            Some(Value::String(offset)) => Some(SmolStr::from(offset)),
            None | Some(Value::Null) => None,
            Some(_) => return Err(invalid("broadcast offset")),
        },
        _ => None,
    };
    let opts: BroadcastOptions = from_value(opts).map_err(|e| invalid(format!("opts: {e}")))?;
    let body = broadcast_body(packet, opts, offset);
    Ok(ClusterMessage { uid, nsp, body })
}

/// A broadcast's body: recoverable when `opts` carried an offset.
fn broadcast_body(mut packet: Packet, opts: BroadcastOptions, offset: Option<SmolStr>) -> Body {
    match offset {
        // A Switchyard node's recoverable broadcast: the offset goes back
        // at the end of the arguments.
        Some(offset) => {
            if let PacketKind::Event { args, .. } = &mut packet.kind {
                args.push(Value::from(offset.as_str()));
            }
            Body::RecoverableBroadcast {
                packet,
                opts,
                offset,
            }
        }
        None => Body::Broadcast {
            packet,
            opts,
            request_id: None,
        },
    }
}

fn string(map: &Map, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn rooms(value: Option<Value>) -> Result<Vec<Room>, MessageError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => from_value(v).map_err(|e| invalid(format!("rooms: {e}"))),
    }
}

pub(super) fn decode_request(nsp: SmolStr, value: Value) -> Result<ClusterMessage, MessageError> {
    let Value::Object(mut map) = value else {
        return Err(invalid("a request is an object"));
    };
    let uid = NodeId::from(string(&map, "uid").unwrap_or_else(|| EMITTER_UID.to_owned()));
    let kind = map
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("request type"))?;
    let request_id = string(&map, "requestId").map(RequestId::from);
    let need_id = || request_id.clone().ok_or_else(|| invalid("requestId"));
    let opts_value = map.swap_remove("opts");
    let opts = || -> Result<BroadcastOptions, MessageError> {
        match &opts_value {
            Some(opts) => from_value(opts.clone()).map_err(|e| invalid(format!("opts: {e}"))),
            None => Err(invalid(
                "opts (requests for one socket by sid are not supported)",
            )),
        }
    };
    let body = match kind {
        SOCKETS => Body::Sockets {
            rooms: rooms(map.swap_remove("rooms"))?,
            request_id: need_id()?,
        },
        ALL_ROOMS => Body::AllRooms {
            request_id: need_id()?,
        },
        REMOTE_JOIN => Body::SocketsJoin {
            opts: opts()?,
            rooms: rooms(map.swap_remove("rooms"))?,
        },
        REMOTE_LEAVE => Body::SocketsLeave {
            opts: opts()?,
            rooms: rooms(map.swap_remove("rooms"))?,
        },
        REMOTE_DISCONNECT => {
            let close = map.get("close").and_then(Value::as_bool).unwrap_or(false);
            Body::DisconnectSockets {
                opts: opts()?,
                close,
            }
        }
        REMOTE_FETCH => Body::FetchSockets {
            opts: opts()?,
            request_id: need_id()?,
        },
        SERVER_SIDE_EMIT => {
            let Some(Value::Array(mut data)) = map.swap_remove("data") else {
                return Err(invalid("server-side emit data"));
            };
            if data.is_empty() {
                return Err(invalid("server-side emit without an event"));
            }
            let event = match data.remove(0) {
                Value::String(s) => s,
                _ => return Err(invalid("server-side emit event name")),
            };
            Body::ServerSideEmit {
                event,
                args: data,
                request_id,
            }
        }
        BROADCAST => {
            let packet = packet_from_value(map.swap_remove("packet").unwrap_or(Value::Null), &nsp)?;
            Body::Broadcast {
                packet,
                opts: opts()?,
                request_id: Some(need_id()?),
            }
        }
        other => return Err(invalid(format!("unknown request type {other}"))),
    };
    Ok(ClusterMessage { uid, nsp, body })
}

pub(super) fn decode_response(nsp: SmolStr, value: Value) -> Result<ClusterMessage, MessageError> {
    let Value::Object(mut map) = value else {
        return Err(invalid("a response is an object"));
    };
    let request_id = RequestId::from(
        string(&map, "requestId").ok_or_else(|| invalid("response without requestId"))?,
    );
    let body = match (
        map.get("type").and_then(Value::as_u64),
        map.swap_remove("sockets"),
        map.swap_remove("rooms"),
    ) {
        (Some(SERVER_SIDE_EMIT), _, _) => Body::ServerSideEmitResponse {
            request_id,
            value: map.swap_remove("data").unwrap_or(Value::Null),
        },
        (Some(BROADCAST_CLIENT_COUNT), _, _) => {
            let count = map
                .get("clientCount")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid("clientCount"))?;
            Body::BroadcastClientCount { request_id, count }
        }
        (Some(BROADCAST_ACK), _, _) => Body::BroadcastAck {
            request_id,
            value: map.swap_remove("packet").unwrap_or(Value::Null),
        },
        (_, Some(Value::Array(sockets)), _)
            if sockets.iter().all(|s| s.as_str().is_some()) && !sockets.is_empty() =>
        {
            Body::SocketsResponse {
                request_id,
                ids: sockets
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect(),
            }
        }
        (_, Some(sockets @ Value::Array(_)), _) => Body::FetchSocketsResponse {
            request_id,
            sockets: from_value(sockets).map_err(|e| invalid(format!("sockets: {e}")))?,
        },
        (_, _, Some(rooms)) => Body::AllRoomsResponse {
            request_id,
            rooms: from_value(rooms).map_err(|e| invalid(format!("rooms: {e}")))?,
        },
        _ => return Err(invalid("a response of an unknown kind")),
    };
    // Node's responses do not say who sent them.
    Ok(ClusterMessage {
        uid: NodeId::default(),
        nsp,
        body,
    })
}
