//! Socket.IO EVENT packets as Node's adapters carry them inside cluster
//! messages and kept sessions: `{type, data, nsp, id?}`.

use super::error::{MessageError, invalid};
use smol_str::SmolStr;
use switchyard_core::Value;
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::value::Map;

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
