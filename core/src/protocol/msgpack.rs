//! The MessagePack parser: each packet is one map `{type, nsp, data?, id?}`
//! in one binary frame, as `socket.io-msgpack-parser` writes it.

use super::error::ParseError;
use super::packet::{DecodeLimits, MAX_NAMESPACE_BYTES, Packet, PacketKind, build};
use crate::engine::Frame;
use crate::value::{Value, msgpack};
use bytes::Bytes;
use smol_str::SmolStr;

/// Encodes a packet as one binary frame.
pub(crate) fn encode(packet: &Packet) -> Frame {
    let mut out = Vec::with_capacity(64);
    let (data, id): (Option<DataRef<'_>>, Option<u64>) = match &packet.kind {
        PacketKind::Connect(data) => (data.as_ref().map(DataRef::Value), None),
        PacketKind::Disconnect => (None, None),
        PacketKind::Event { name, args, ack } => (Some(DataRef::Event(name, args)), *ack),
        PacketKind::Ack { id, args } => (Some(DataRef::Args(args)), Some(*id)),
        PacketKind::ConnectError(data) => (Some(DataRef::Value(data)), None),
    };
    let entries = 2 + usize::from(data.is_some()) + usize::from(id.is_some());
    msgpack::write_map_len(&mut out, entries);
    msgpack::write_str(&mut out, "type");
    msgpack::write_uint(&mut out, u64::from(packet.type_code(false)));
    if let Some(data) = data {
        msgpack::write_str(&mut out, "data");
        match data {
            DataRef::Value(v) => msgpack::write_value(&mut out, v),
            DataRef::Event(name, args) => {
                msgpack::write_array_len(&mut out, args.len() + 1);
                msgpack::write_str(&mut out, name);
                args.iter().for_each(|a| msgpack::write_value(&mut out, a));
            }
            DataRef::Args(args) => {
                msgpack::write_array_len(&mut out, args.len());
                args.iter().for_each(|a| msgpack::write_value(&mut out, a));
            }
        }
    }
    msgpack::write_str(&mut out, "nsp");
    msgpack::write_str(&mut out, &packet.ns);
    if let Some(id) = id {
        msgpack::write_str(&mut out, "id");
        msgpack::write_uint(&mut out, id);
    }
    Frame::Binary(Bytes::from(out))
}

enum DataRef<'a> {
    Value(&'a Value),
    Event(&'a str, &'a [Value]),
    Args(&'a [Value]),
}

/// Decodes one binary frame, with the checks of `socket.io-msgpack-parser`.
pub(crate) fn decode(data: &Bytes, limits: DecodeLimits) -> Result<Packet, ParseError> {
    let invalid = |what: &str| ParseError::InvalidMsgpack(what.to_owned());
    // The map, its keys and the scalars of the envelope count too.
    let value =
        msgpack::decode(data, limits.max_elements.saturating_add(8)).map_err(|e| match e {
            msgpack::DecodeError::TooManyElements(_) => {
                ParseError::TooManyElements(limits.max_elements)
            }
            e => ParseError::InvalidMsgpack(e.to_string()),
        })?;
    let Some(Value::Object(mut map)) = value else {
        return Err(invalid("not a map"));
    };
    let type_code = map
        .get("type")
        .and_then(Value::as_u64)
        .filter(|&t| t <= 4)
        .ok_or_else(|| invalid("invalid packet type"))? as u8;
    let ns = match map.get("nsp") {
        Some(Value::String(ns)) if ns.len() > MAX_NAMESPACE_BYTES => {
            return Err(ParseError::NamespaceTooLong);
        }
        Some(Value::String(ns)) => SmolStr::new(ns),
        _ => return Err(invalid("invalid namespace")),
    };
    let id = match map.get("id") {
        None => None,
        Some(id) => Some(id.as_u64().ok_or(ParseError::InvalidAckId)?),
    };
    let data = map.swap_remove("data");
    build(ns, type_code, id, data)
}
