//! Reading a [`ClusterMessage`]: the header `{uid, nsp, type}`, then the
//! `data` of each kind. Anything malformed is an error, never a panic.

use super::data::{
    CountResponse, IdsResponse, OptsClose, OptsRequest, OptsRooms, RoomsRequest, RoomsResponse,
    SocketsResponse, ValueResponse,
};
use super::error::{MessageError, invalid};
use super::packet::packet_from_value;
use super::{Body, ClusterMessage, RequestId};
use crate::broker::channel::NodeId;
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_core::value::{ValueError, from_msgpack};
use switchyard_core::{Room, Value, from_value};

mod parts;
mod stream;
#[cfg(test)]
mod stream_tests;

impl ClusterMessage {
    /// Reads a message; anything malformed is an error, never a panic.
    /// Broadcasts, the bulk of the traffic, are read straight into their
    /// packet and options; anything else, or anything unexpected in them,
    /// through a `Value` tree of the whole message.
    pub fn decode(bytes: &Bytes) -> Result<ClusterMessage, MessageError> {
        match stream::broadcast(bytes) {
            Some(message) => Ok(message),
            None => decode_tree(bytes),
        }
    }
}

/// Reads a message through a `Value` tree of it: every type, and the
/// reference the broadcast fast path agrees with.
fn decode_tree(bytes: &Bytes) -> Result<ClusterMessage, MessageError> {
    let Some(Value::Object(mut map)) = from_msgpack(bytes)? else {
        return Err(invalid("not a map"));
    };
    let uid = match map.swap_remove("uid") {
        Some(Value::String(s)) => NodeId::from(s),
        _ => return Err(invalid("uid")),
    };
    let nsp = match map.swap_remove("nsp") {
        Some(Value::String(s)) => SmolStr::from(s),
        _ => return Err(invalid("nsp")),
    };
    let type_code = map
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("type"))?;
    let data = map.swap_remove("data").unwrap_or(Value::Null);
    let body = body(type_code, data, &nsp)?;
    Ok(ClusterMessage { uid, nsp, body })
}

/// The body of a message of type `type_code` in namespace `nsp`.
fn body(type_code: u64, data: Value, nsp: &SmolStr) -> Result<Body, MessageError> {
    Ok(match type_code {
        1 => Body::InitialHeartbeat,
        2 => Body::Heartbeat,
        3 => broadcast(data, nsp)?,
        4 | 5 => rooms_change(type_code, data)?,
        6 => {
            let OptsClose { opts, close } = from_value(data).map_err(parse("disconnect"))?;
            Body::DisconnectSockets { opts, close }
        }
        7 => {
            let OptsRequest { opts, request_id } = from_value(data).map_err(parse("fetch"))?;
            Body::FetchSockets { opts, request_id }
        }
        8 => fetch_sockets_response(data)?,
        9 => server_side_emit(data)?,
        10 | 12 => value_response(type_code, data)?,
        11 => client_count(data)?,
        13 => Body::AdapterClose,
        14 => {
            let RoomsRequest { rooms, request_id } =
                from_value(data).map_err(parse("sockets request"))?;
            Body::Sockets { rooms, request_id }
        }
        15 => sockets_response(data)?,
        16 => {
            let RoomsRequest { request_id, .. } =
                from_value(data).map_err(parse("rooms request"))?;
            Body::AllRooms { request_id }
        }
        17 => {
            let RoomsResponse { request_id, rooms } = from_value(data).map_err(parse("rooms"))?;
            Body::AllRoomsResponse { request_id, rooms }
        }
        18 => restore_session(data)?,
        19 => restore_session_response(data)?,
        20 => presence_update(&data)?,
        21 => presence_snapshot(data)?,
        22 => node_address(&data)?,
        23 => join_confirmation(&data)?,
        24 => take_session(&data)?,
        25 => missed_since(&data)?,
        26 => evict_session(&data)?,
        other => return Err(MessageError::UnknownType(other)),
    })
}

/// Turns a serde error about `what` into an invalid message.
fn parse(what: &'static str) -> impl Fn(ValueError) -> MessageError {
    move |e| invalid(format!("{what}: {e}"))
}

/// An optional `requestId`: absent or null for none.
fn optional_request_id(
    d: &mut switchyard_core::value::Map,
) -> Result<Option<RequestId>, MessageError> {
    match d.swap_remove("requestId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(RequestId::from(s))),
        Some(_) => Err(invalid("requestId")),
    }
}

/// A text field of `data`; `context` names the message in the error.
fn text(data: &Value, context: &str, key: &str) -> Result<SmolStr, MessageError> {
    match data.get(key) {
        Some(Value::String(s)) => Ok(SmolStr::new(s)),
        _ => Err(invalid(format!("{context} {key}"))),
    }
}

/// Type 3: a broadcast, acknowledged with a request id or recoverable with
/// an offset.
fn broadcast(data: Value, nsp: &SmolStr) -> Result<Body, MessageError> {
    let Value::Object(mut d) = data else {
        return Err(invalid("broadcast data"));
    };
    let packet = packet_from_value(d.swap_remove("packet").unwrap_or(Value::Null), nsp)?;
    let opts = from_value(d.swap_remove("opts").unwrap_or(Value::Null)).map_err(parse("opts"))?;
    let request_id = optional_request_id(&mut d)?;
    match (d.swap_remove("offset"), request_id) {
        (Some(Value::String(offset)), None) => Ok(Body::RecoverableBroadcast {
            packet,
            opts,
            offset: SmolStr::from(offset),
        }),
        (None | Some(Value::Null), request_id) => Ok(Body::Broadcast {
            packet,
            opts,
            request_id,
        }),
        _ => Err(invalid("offset")),
    }
}

/// Types 4 and 5: sockets join (confirmed with a request id) or leave rooms.
fn rooms_change(type_code: u64, data: Value) -> Result<Body, MessageError> {
    let OptsRooms {
        opts,
        rooms,
        request_id,
    } = from_value(data).map_err(parse("rooms"))?;
    Ok(match (type_code, request_id) {
        (4, Some(request_id)) => Body::SocketsJoinConfirmed {
            opts,
            rooms,
            request_id,
        },
        (4, None) => Body::SocketsJoin { opts, rooms },
        _ => Body::SocketsLeave { opts, rooms },
    })
}

/// Type 8: one node's matching sockets.
fn fetch_sockets_response(data: Value) -> Result<Body, MessageError> {
    let SocketsResponse {
        request_id,
        sockets,
    } = from_value(data).map_err(parse("sockets"))?;
    Ok(Body::FetchSocketsResponse {
        request_id,
        sockets,
    })
}

/// Type 9: an event for the other servers, `packet` being `[event, ...args]`.
fn server_side_emit(data: Value) -> Result<Body, MessageError> {
    let Value::Object(mut d) = data else {
        return Err(invalid("server-side emit data"));
    };
    let Some(Value::Array(mut packet)) = d.swap_remove("packet") else {
        return Err(invalid("server-side emit packet"));
    };
    if packet.is_empty() {
        return Err(invalid("server-side emit without an event"));
    }
    let event = match packet.remove(0) {
        Value::String(s) => s,
        _ => return Err(invalid("server-side emit event name")),
    };
    let request_id = optional_request_id(&mut d)?;
    Ok(Body::ServerSideEmit {
        event,
        args: packet,
        request_id,
    })
}

/// Types 10 and 12: a server's answer to a server-side emit, or a client's
/// acknowledgement of a broadcast.
fn value_response(type_code: u64, data: Value) -> Result<Body, MessageError> {
    let ValueResponse { request_id, packet } = from_value(data).map_err(parse("response"))?;
    Ok(if type_code == 10 {
        Body::ServerSideEmitResponse {
            request_id,
            value: packet,
        }
    } else {
        Body::BroadcastAck {
            request_id,
            value: packet,
        }
    })
}

/// Type 11: how many clients a node sent an acknowledged broadcast to.
fn client_count(data: Value) -> Result<Body, MessageError> {
    let CountResponse {
        request_id,
        client_count,
    } = from_value(data).map_err(parse("count"))?;
    Ok(Body::BroadcastClientCount {
        request_id,
        count: client_count,
    })
}

/// Type 15: one node's socket ids.
fn sockets_response(data: Value) -> Result<Body, MessageError> {
    let IdsResponse {
        request_id,
        sockets,
    } = from_value(data).map_err(parse("ids"))?;
    Ok(Body::SocketsResponse {
        request_id,
        ids: sockets,
    })
}

/// Type 18: a session and its missed packets, asked in one request.
fn restore_session(data: Value) -> Result<Body, MessageError> {
    if !matches!(data, Value::Object(_)) {
        return Err(invalid("restore data"));
    }
    Ok(Body::RestoreSession {
        pid: text(&data, "restore", "pid")?,
        offset: text(&data, "restore", "offset")?,
        request_id: text(&data, "restore", "requestId")?,
    })
}

/// Type 19: a node's answer to a recovery request.
fn restore_session_response(data: Value) -> Result<Body, MessageError> {
    let ValueResponse { request_id, packet } =
        from_value(data).map_err(parse("restore response"))?;
    Ok(Body::RestoreSessionResponse {
        request_id,
        session: packet,
    })
}

/// Type 20: a node's count of one user's sessions.
fn presence_update(data: &Value) -> Result<Body, MessageError> {
    let (Some(user), Some(count)) = (
        data.get("user").and_then(Value::as_str),
        data.get("count").and_then(Value::as_u64),
    ) else {
        return Err(invalid("presence update"));
    };
    Ok(Body::PresenceUpdate {
        user: SmolStr::new(user),
        count,
    })
}

/// Type 21: every user of a node, `{user: count}`.
fn presence_snapshot(data: Value) -> Result<Body, MessageError> {
    let users = match data {
        Value::Object(map) => map
            .into_iter()
            .map(|(user, count)| match count.as_u64() {
                Some(n) => Ok((SmolStr::from(user), n)),
                None => Err(invalid("presence snapshot count")),
            })
            .collect::<Result<_, _>>()?,
        Value::Null => Vec::new(),
        _ => return Err(invalid("presence snapshot")),
    };
    Ok(Body::PresenceSnapshot { users })
}

/// Type 22: where a node listens.
fn node_address(data: &Value) -> Result<Body, MessageError> {
    let (Some(tag), Some(address)) = (
        data.get("tag").and_then(Value::as_str),
        data.get("address").and_then(Value::as_str),
    ) else {
        return Err(invalid("node address"));
    };
    Ok(Body::NodeAddress {
        tag: SmolStr::new(tag),
        address: address.to_owned(),
    })
}

/// Type 23: a node's answer to a confirmed join.
fn join_confirmation(data: &Value) -> Result<Body, MessageError> {
    let Some(request_id) = data.get("requestId").and_then(Value::as_str) else {
        return Err(invalid("join confirmation"));
    };
    Ok(Body::JoinConfirmation {
        request_id: RequestId::from(request_id),
        error: data.get("error").and_then(Value::as_str).map(str::to_owned),
    })
}

/// Type 24: take a session kept on the node asked.
fn take_session(data: &Value) -> Result<Body, MessageError> {
    Ok(Body::TakeSession {
        pid: text(data, "take session", "pid")?,
        request_id: text(data, "take session", "requestId")?,
    })
}

/// Type 25: the packets a socket missed, from the node that kept its session.
fn missed_since(data: &Value) -> Result<Body, MessageError> {
    let rooms = match data.get("rooms") {
        Some(Value::Array(rooms)) => rooms
            .iter()
            .map(|r| {
                r.as_str()
                    .map(Room::new)
                    .ok_or_else(|| invalid("missed since rooms"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("missed since rooms")),
    };
    Ok(Body::MissedSince {
        pid: text(data, "missed since", "pid")?,
        offset: text(data, "missed since", "offset")?,
        rooms,
        request_id: text(data, "missed since", "requestId")?,
    })
}

/// Type 26: close the connection of a socket whose client came back elsewhere.
fn evict_session(data: &Value) -> Result<Body, MessageError> {
    Ok(Body::EvictSession {
        pid: text(data, "evict session", "pid")?,
        request_id: text(data, "evict session", "requestId")?,
    })
}
