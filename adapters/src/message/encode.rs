//! Writing a [`ClusterMessage`]: a MessagePack map `{uid, nsp, type, data?}`
//! with Node's type numbers and field names.

use super::data::{
    CountResponse, IdsResponse, OptsClose, OptsRequest, OptsRooms, RoomsRequest, RoomsResponse,
    SocketsResponse, ValueResponse,
};
use super::packet::packet_to_value;
use super::{Body, ClusterMessage};
use bytes::Bytes;
use switchyard_core::value::{Map, to_msgpack};
use switchyard_core::{Value, to_value};

impl ClusterMessage {
    /// The MessagePack bytes.
    pub fn encode(&self) -> Bytes {
        let mut map = Map::new();
        map.insert("uid".into(), Value::from(self.uid.as_str()));
        map.insert("nsp".into(), Value::from(self.nsp.as_str()));
        map.insert("type".into(), Value::from(self.body.type_code()));
        if let Some(data) = data(&self.body) {
            map.insert("data".into(), data);
        }
        Bytes::from(to_msgpack(&Value::Object(map)))
    }
}

/// The `data` field, by group of message kinds; `None` for the kinds
/// without one.
fn data(body: &Body) -> Option<Value> {
    match body {
        Body::InitialHeartbeat | Body::Heartbeat | Body::AdapterClose => None,
        Body::Broadcast { .. }
        | Body::RecoverableBroadcast { .. }
        | Body::SocketsJoin { .. }
        | Body::SocketsLeave { .. }
        | Body::SocketsJoinConfirmed { .. }
        | Body::DisconnectSockets { .. }
        | Body::FetchSockets { .. } => targeting_data(body),
        Body::ServerSideEmit { .. }
        | Body::Sockets { .. }
        | Body::AllRooms { .. }
        | Body::RestoreSession { .. }
        | Body::TakeSession { .. }
        | Body::EvictSession { .. }
        | Body::MissedSince { .. } => request_data(body),
        Body::FetchSocketsResponse { .. }
        | Body::ServerSideEmitResponse { .. }
        | Body::BroadcastAck { .. }
        | Body::BroadcastClientCount { .. }
        | Body::SocketsResponse { .. }
        | Body::AllRoomsResponse { .. }
        | Body::RestoreSessionResponse { .. }
        | Body::JoinConfirmation { .. } => response_data(body),
        Body::PresenceUpdate { .. } | Body::PresenceSnapshot { .. } | Body::NodeAddress { .. } => {
            node_data(body)
        }
    }
}

/// Serializing the plain structs of `data` cannot fail: keys are strings.
fn value<E>(v: Result<Value, E>) -> Option<Value> {
    v.ok()
}

/// The messages that act on the sockets that broadcast options target.
fn targeting_data(body: &Body) -> Option<Value> {
    match body {
        Body::Broadcast {
            packet,
            opts,
            request_id,
        } => {
            let mut map = Map::new();
            map.insert("packet".into(), packet_to_value(packet));
            map.insert("opts".into(), value(to_value(opts))?);
            if let Some(id) = request_id {
                map.insert("requestId".into(), Value::from(id.as_str()));
            }
            Some(Value::Object(map))
        }
        Body::RecoverableBroadcast {
            packet,
            opts,
            offset,
        } => {
            let mut map = Map::new();
            map.insert("packet".into(), packet_to_value(packet));
            map.insert("opts".into(), value(to_value(opts))?);
            map.insert("offset".into(), Value::from(offset.as_str()));
            Some(Value::Object(map))
        }
        Body::SocketsJoin { opts, rooms } | Body::SocketsLeave { opts, rooms } => {
            value(to_value(&OptsRooms {
                opts: opts.clone(),
                rooms: rooms.clone(),
                request_id: None,
            }))
        }
        Body::SocketsJoinConfirmed {
            opts,
            rooms,
            request_id,
        } => value(to_value(&OptsRooms {
            opts: opts.clone(),
            rooms: rooms.clone(),
            request_id: Some(request_id.clone()),
        })),
        Body::DisconnectSockets { opts, close } => value(to_value(&OptsClose {
            opts: opts.clone(),
            close: *close,
        })),
        Body::FetchSockets { opts, request_id } => value(to_value(&OptsRequest {
            opts: opts.clone(),
            request_id: request_id.clone(),
        })),
        // The other groups' kinds (see `data`).
        _ => None,
    }
}

/// Requests to other nodes, and server-side emits.
fn request_data(body: &Body) -> Option<Value> {
    match body {
        Body::ServerSideEmit {
            event,
            args,
            request_id,
        } => {
            let mut packet = Vec::with_capacity(args.len() + 1);
            packet.push(Value::from(event.as_str()));
            packet.extend(args.iter().cloned());
            let mut map = Map::new();
            map.insert("packet".into(), Value::Array(packet));
            if let Some(id) = request_id {
                map.insert("requestId".into(), Value::from(id.as_str()));
            }
            Some(Value::Object(map))
        }
        Body::Sockets { rooms, request_id } => value(to_value(&RoomsRequest {
            rooms: rooms.clone(),
            request_id: request_id.clone(),
        })),
        Body::AllRooms { request_id } => value(to_value(&RoomsRequest {
            rooms: Vec::new(),
            request_id: request_id.clone(),
        })),
        Body::RestoreSession {
            pid,
            offset,
            request_id,
        } => {
            let mut map = Map::new();
            map.insert("pid".into(), Value::from(pid.as_str()));
            map.insert("offset".into(), Value::from(offset.as_str()));
            map.insert("requestId".into(), Value::from(request_id.as_str()));
            Some(Value::Object(map))
        }
        Body::TakeSession { pid, request_id } | Body::EvictSession { pid, request_id } => {
            let mut map = Map::new();
            map.insert("pid".into(), Value::from(pid.as_str()));
            map.insert("requestId".into(), Value::from(request_id.as_str()));
            Some(Value::Object(map))
        }
        Body::MissedSince {
            pid,
            offset,
            rooms,
            request_id,
        } => {
            let mut map = Map::new();
            map.insert("pid".into(), Value::from(pid.as_str()));
            map.insert("offset".into(), Value::from(offset.as_str()));
            map.insert(
                "rooms".into(),
                Value::Array(rooms.iter().map(|r| Value::from(r.as_str())).collect()),
            );
            map.insert("requestId".into(), Value::from(request_id.as_str()));
            Some(Value::Object(map))
        }
        // The other groups' kinds (see `data`).
        _ => None,
    }
}

/// Answers to requests.
fn response_data(body: &Body) -> Option<Value> {
    match body {
        Body::FetchSocketsResponse {
            request_id,
            sockets,
        } => value(to_value(&SocketsResponse {
            request_id: request_id.clone(),
            sockets: sockets.clone(),
        })),
        Body::ServerSideEmitResponse {
            request_id,
            value: v,
        }
        | Body::BroadcastAck {
            request_id,
            value: v,
        } => value(to_value(&ValueResponse {
            request_id: request_id.clone(),
            packet: v.clone(),
        })),
        Body::BroadcastClientCount { request_id, count } => value(to_value(&CountResponse {
            request_id: request_id.clone(),
            client_count: *count,
        })),
        Body::SocketsResponse { request_id, ids } => value(to_value(&IdsResponse {
            request_id: request_id.clone(),
            sockets: ids.clone(),
        })),
        Body::AllRoomsResponse { request_id, rooms } => value(to_value(&RoomsResponse {
            request_id: request_id.clone(),
            rooms: rooms.clone(),
        })),
        Body::RestoreSessionResponse {
            request_id,
            session,
        } => value(to_value(&ValueResponse {
            request_id: request_id.clone(),
            packet: session.clone(),
        })),
        Body::JoinConfirmation { request_id, error } => {
            let mut map = Map::new();
            map.insert("requestId".into(), Value::from(request_id.as_str()));
            if let Some(error) = error {
                map.insert("error".into(), Value::from(error.as_str()));
            }
            Some(Value::Object(map))
        }
        // The other groups' kinds (see `data`).
        _ => None,
    }
}

/// What a node tells the others about itself: presence, its address.
fn node_data(body: &Body) -> Option<Value> {
    match body {
        Body::PresenceUpdate { user, count } => {
            let mut map = Map::new();
            map.insert("user".into(), Value::from(user.as_str()));
            map.insert("count".into(), Value::from(*count));
            Some(Value::Object(map))
        }
        Body::PresenceSnapshot { users } => {
            let mut map = Map::new();
            for (user, count) in users {
                map.insert(user.to_string(), Value::from(*count));
            }
            Some(Value::Object(map))
        }
        Body::NodeAddress { tag, address } => {
            let mut map = Map::new();
            map.insert("tag".into(), Value::from(tag.as_str()));
            map.insert("address".into(), Value::from(address.as_str()));
            Some(Value::Object(map))
        }
        // The other groups' kinds (see `data`).
        _ => None,
    }
}
