//! The native encoding of [`ClusterMessage`]: a MessagePack map
//! `{uid, nsp, type, data?}` with Node's type numbers, and Socket.IO EVENT
//! packets as Node's adapters carry them.

use super::*;

fn invalid(what: impl Into<String>) -> MessageError {
    MessageError::Invalid(what.into())
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptsRooms {
    opts: BroadcastOptions,
    rooms: Vec<Room>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<RequestId>,
}

#[derive(Serialize, Deserialize)]
struct OptsClose {
    opts: BroadcastOptions,
    close: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptsRequest {
    opts: BroadcastOptions,
    request_id: RequestId,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SocketsResponse {
    request_id: RequestId,
    sockets: Vec<SocketInfo>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueResponse {
    request_id: RequestId,
    packet: Value,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomsRequest {
    #[serde(default)]
    rooms: Vec<Room>,
    request_id: RequestId,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdsResponse {
    request_id: RequestId,
    sockets: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomsResponse {
    request_id: RequestId,
    rooms: Vec<Room>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountResponse {
    request_id: RequestId,
    client_count: u64,
}

impl ClusterMessage {
    /// The MessagePack bytes.
    pub fn encode(&self) -> Bytes {
        let mut map = Map::new();
        map.insert("uid".into(), Value::from(self.uid.as_str()));
        map.insert("nsp".into(), Value::from(self.nsp.as_str()));
        map.insert("type".into(), Value::from(self.body.type_code()));
        if let Some(data) = self.data() {
            map.insert("data".into(), data);
        }
        Bytes::from(to_msgpack(&Value::Object(map)))
    }

    fn data(&self) -> Option<Value> {
        // Serializing these plain structs cannot fail: keys are strings.
        let value = |v: Result<Value, _>| v.ok();
        match &self.body {
            Body::InitialHeartbeat | Body::Heartbeat | Body::AdapterClose => None,
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
            Body::RestoreSessionResponse {
                request_id,
                session,
            } => value(to_value(&ValueResponse {
                request_id: request_id.clone(),
                packet: session.clone(),
            })),
            Body::NodeAddress { tag, address } => {
                let mut map = Map::new();
                map.insert("tag".into(), Value::from(tag.as_str()));
                map.insert("address".into(), Value::from(address.as_str()));
                Some(Value::Object(map))
            }
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
            Body::JoinConfirmation { request_id, error } => {
                let mut map = Map::new();
                map.insert("requestId".into(), Value::from(request_id.as_str()));
                if let Some(error) = error {
                    map.insert("error".into(), Value::from(error.as_str()));
                }
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
            Body::DisconnectSockets { opts, close } => value(to_value(&OptsClose {
                opts: opts.clone(),
                close: *close,
            })),
            Body::FetchSockets { opts, request_id } => value(to_value(&OptsRequest {
                opts: opts.clone(),
                request_id: request_id.clone(),
            })),
            Body::FetchSocketsResponse {
                request_id,
                sockets,
            } => value(to_value(&SocketsResponse {
                request_id: request_id.clone(),
                sockets: sockets.clone(),
            })),
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
            Body::Sockets { rooms, request_id } => value(to_value(&RoomsRequest {
                rooms: rooms.clone(),
                request_id: request_id.clone(),
            })),
            Body::SocketsResponse { request_id, ids } => value(to_value(&IdsResponse {
                request_id: request_id.clone(),
                sockets: ids.clone(),
            })),
            Body::AllRooms { request_id } => value(to_value(&RoomsRequest {
                rooms: Vec::new(),
                request_id: request_id.clone(),
            })),
            Body::AllRoomsResponse { request_id, rooms } => value(to_value(&RoomsResponse {
                request_id: request_id.clone(),
                rooms: rooms.clone(),
            })),
        }
    }

    /// Reads a message; anything malformed is an error, never a panic.
    pub fn decode(bytes: &Bytes) -> Result<ClusterMessage, MessageError> {
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
        fn parse(
            what: &'static str,
        ) -> impl Fn(switchyard_core::value::ValueError) -> MessageError {
            move |e| invalid(format!("{what}: {e}"))
        }
        let body = match type_code {
            1 => Body::InitialHeartbeat,
            2 => Body::Heartbeat,
            3 => {
                let Value::Object(mut d) = data else {
                    return Err(invalid("broadcast data"));
                };
                let packet =
                    packet_from_value(d.swap_remove("packet").unwrap_or(Value::Null), &nsp)?;
                let opts = from_value(d.swap_remove("opts").unwrap_or(Value::Null))
                    .map_err(parse("opts"))?;
                let request_id = match d.swap_remove("requestId") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(RequestId::from(s)),
                    Some(_) => return Err(invalid("requestId")),
                };
                match (d.swap_remove("offset"), request_id) {
                    (Some(Value::String(offset)), None) => Body::RecoverableBroadcast {
                        packet,
                        opts,
                        offset: SmolStr::from(offset),
                    },
                    (None | Some(Value::Null), request_id) => Body::Broadcast {
                        packet,
                        opts,
                        request_id,
                    },
                    _ => return Err(invalid("offset")),
                }
            }
            4 | 5 => {
                let OptsRooms {
                    opts,
                    rooms,
                    request_id,
                } = from_value(data).map_err(parse("rooms"))?;
                match (type_code, request_id) {
                    (4, Some(request_id)) => Body::SocketsJoinConfirmed {
                        opts,
                        rooms,
                        request_id,
                    },
                    (4, None) => Body::SocketsJoin { opts, rooms },
                    _ => Body::SocketsLeave { opts, rooms },
                }
            }
            6 => {
                let OptsClose { opts, close } = from_value(data).map_err(parse("disconnect"))?;
                Body::DisconnectSockets { opts, close }
            }
            7 => {
                let OptsRequest { opts, request_id } = from_value(data).map_err(parse("fetch"))?;
                Body::FetchSockets { opts, request_id }
            }
            8 => {
                let SocketsResponse {
                    request_id,
                    sockets,
                } = from_value(data).map_err(parse("sockets"))?;
                Body::FetchSocketsResponse {
                    request_id,
                    sockets,
                }
            }
            9 => {
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
                let request_id = match d.swap_remove("requestId") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(RequestId::from(s)),
                    Some(_) => return Err(invalid("requestId")),
                };
                Body::ServerSideEmit {
                    event,
                    args: packet,
                    request_id,
                }
            }
            10 | 12 => {
                let ValueResponse { request_id, packet } =
                    from_value(data).map_err(parse("response"))?;
                if type_code == 10 {
                    Body::ServerSideEmitResponse {
                        request_id,
                        value: packet,
                    }
                } else {
                    Body::BroadcastAck {
                        request_id,
                        value: packet,
                    }
                }
            }
            11 => {
                let CountResponse {
                    request_id,
                    client_count,
                } = from_value(data).map_err(parse("count"))?;
                Body::BroadcastClientCount {
                    request_id,
                    count: client_count,
                }
            }
            13 => Body::AdapterClose,
            14 => {
                let RoomsRequest { rooms, request_id } =
                    from_value(data).map_err(parse("sockets request"))?;
                Body::Sockets { rooms, request_id }
            }
            15 => {
                let IdsResponse {
                    request_id,
                    sockets,
                } = from_value(data).map_err(parse("ids"))?;
                Body::SocketsResponse {
                    request_id,
                    ids: sockets,
                }
            }
            16 => {
                let RoomsRequest { request_id, .. } =
                    from_value(data).map_err(parse("rooms request"))?;
                Body::AllRooms { request_id }
            }
            17 => {
                let RoomsResponse { request_id, rooms } =
                    from_value(data).map_err(parse("rooms"))?;
                Body::AllRoomsResponse { request_id, rooms }
            }
            18 => {
                let Value::Object(d) = data else {
                    return Err(invalid("restore data"));
                };
                let text = |key: &str| match d.get(key) {
                    Some(Value::String(s)) => Ok(SmolStr::new(s)),
                    _ => Err(invalid(format!("restore {key}"))),
                };
                Body::RestoreSession {
                    pid: text("pid")?,
                    offset: text("offset")?,
                    request_id: text("requestId")?,
                }
            }
            19 => {
                let ValueResponse { request_id, packet } =
                    from_value(data).map_err(parse("restore response"))?;
                Body::RestoreSessionResponse {
                    request_id,
                    session: packet,
                }
            }
            20 => {
                let (Some(user), Some(count)) = (
                    data.get("user").and_then(Value::as_str),
                    data.get("count").and_then(Value::as_u64),
                ) else {
                    return Err(invalid("presence update"));
                };
                Body::PresenceUpdate {
                    user: SmolStr::new(user),
                    count,
                }
            }
            21 => {
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
                Body::PresenceSnapshot { users }
            }
            22 => {
                let (Some(tag), Some(address)) = (
                    data.get("tag").and_then(Value::as_str),
                    data.get("address").and_then(Value::as_str),
                ) else {
                    return Err(invalid("node address"));
                };
                Body::NodeAddress {
                    tag: SmolStr::new(tag),
                    address: address.to_owned(),
                }
            }
            23 => {
                let Some(request_id) = data.get("requestId").and_then(Value::as_str) else {
                    return Err(invalid("join confirmation"));
                };
                Body::JoinConfirmation {
                    request_id: RequestId::from(request_id),
                    error: data.get("error").and_then(Value::as_str).map(str::to_owned),
                }
            }
            24 => {
                let text = |key: &str| match data.get(key) {
                    Some(Value::String(s)) => Ok(SmolStr::new(s)),
                    _ => Err(invalid(format!("take session {key}"))),
                };
                Body::TakeSession {
                    pid: text("pid")?,
                    request_id: text("requestId")?,
                }
            }
            26 => {
                let text = |key: &str| match data.get(key) {
                    Some(Value::String(s)) => Ok(SmolStr::new(s)),
                    _ => Err(invalid(format!("evict session {key}"))),
                };
                Body::EvictSession {
                    pid: text("pid")?,
                    request_id: text("requestId")?,
                }
            }
            25 => {
                let text = |key: &str| match data.get(key) {
                    Some(Value::String(s)) => Ok(SmolStr::new(s)),
                    _ => Err(invalid(format!("missed since {key}"))),
                };
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
                Body::MissedSince {
                    pid: text("pid")?,
                    offset: text("offset")?,
                    rooms,
                    request_id: text("requestId")?,
                }
            }
            other => return Err(MessageError::UnknownType(other)),
        };
        Ok(ClusterMessage { uid, nsp, body })
    }
}

/// A socket.io EVENT packet as Node's adapters carry it: `{type, data, nsp, id?}`.
pub fn packet_to_value(packet: &Packet) -> Value {
    let mut map = Map::new();
    match &packet.kind {
        PacketKind::Event { name, args, ack } => {
            let mut data = Vec::with_capacity(args.len() + 1);
            data.push(Value::from(name.as_str()));
            data.extend(args.iter().cloned());
            map.insert("type".into(), Value::from(2));
            map.insert("data".into(), Value::Array(data));
            map.insert("nsp".into(), Value::from(packet.ns.as_str()));
            if let Some(id) = ack {
                map.insert("id".into(), Value::from(*id));
            }
        }
        // Only events are broadcast; anything else is carried as its type.
        other => {
            let code = match other {
                PacketKind::Connect(_) => 0,
                PacketKind::Disconnect => 1,
                PacketKind::Ack { .. } => 3,
                _ => 4,
            };
            map.insert("type".into(), Value::from(code));
            map.insert("nsp".into(), Value::from(packet.ns.as_str()));
        }
    }
    Value::Object(map)
}

/// Reads an EVENT packet (type 2, or 5 from a binary-aware encoder).
pub fn packet_from_value(value: Value, nsp: &SmolStr) -> Result<Packet, MessageError> {
    let Value::Object(mut map) = value else {
        return Err(invalid("packet"));
    };
    match map.get("type").and_then(Value::as_u64) {
        Some(2 | 5) => {}
        _ => return Err(invalid("packet type (only events are broadcast)")),
    }
    let Some(Value::Array(mut data)) = map.swap_remove("data") else {
        return Err(invalid("packet data"));
    };
    if data.is_empty() {
        return Err(invalid("packet without an event name"));
    }
    let name = match data.remove(0) {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid("event name")),
    };
    let ack = map.get("id").and_then(Value::as_u64);
    Ok(Packet {
        ns: nsp.clone(),
        kind: PacketKind::Event {
            name,
            args: data,
            ack,
        },
    })
}
