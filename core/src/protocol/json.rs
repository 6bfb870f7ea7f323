//! The default parser's text format:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`.

use super::binary::PendingBinary;
use super::{
    DecodeLimits, Decoded, EncodeError, Encoded, MAX_NAMESPACE_BYTES, Packet, PacketKind,
    ParseError, split_event,
};
use crate::engine::Frame;
use crate::value::{Value, json};
use bytes::{BufMut, Bytes};
use smol_str::SmolStr;

/// Encodes a packet as a text frame, plus binary frames for its blobs.
pub(super) fn encode(packet: &Packet) -> Result<Encoded, EncodeError> {
    let binary = match &packet.kind {
        PacketKind::Event { args, .. } | PacketKind::Ack { args, .. } => {
            args.iter().any(Value::has_binary)
        }
        _ => false,
    };
    let mut out = Vec::with_capacity(64);
    out.push(b'4'); // Engine.IO "message"
    out.push(b'0' + packet.type_code(binary));
    let mut attachments = Vec::new();
    // The attachment count precedes the payload, so the payload is written to
    // a second buffer when blobs are present.
    let mut payload = Vec::new();
    let body = if binary { &mut payload } else { &mut out };
    let write_prefix = |out: &mut Vec<u8>, id: Option<u64>| {
        if packet.ns != "/" {
            out.extend_from_slice(packet.ns.as_bytes());
            out.push(b',');
        }
        if let Some(id) = id {
            out.extend_from_slice(id.to_string().as_bytes());
        }
    };
    let fail = |e: serde_json::Error| EncodeError(e.to_string());
    match &packet.kind {
        PacketKind::Connect(data) => {
            write_prefix(body, None);
            if let Some(data) = data {
                json::encode_value(body, data, &mut attachments).map_err(fail)?;
            }
        }
        PacketKind::Disconnect => write_prefix(body, None),
        PacketKind::Event { name, args, ack } => {
            write_prefix(body, *ack);
            json::encode_array(body, Some(name), args, &mut attachments).map_err(fail)?;
        }
        PacketKind::Ack { id, args } => {
            write_prefix(body, Some(*id));
            json::encode_array(body, None, args, &mut attachments).map_err(fail)?;
        }
        PacketKind::ConnectError(data) => {
            write_prefix(body, None);
            json::encode_value(body, data, &mut attachments).map_err(fail)?;
        }
    }
    if !binary {
        return Ok(Encoded::One(Frame::Text(Bytes::from(out))));
    }
    out.put_slice(attachments.len().to_string().as_bytes());
    out.push(b'-');
    out.extend_from_slice(&payload);
    let mut frames = Vec::with_capacity(attachments.len() + 1);
    frames.push(Frame::Text(Bytes::from(out)));
    frames.extend(attachments.into_iter().map(Frame::Binary));
    Ok(Encoded::Many(frames))
}

/// Decodes a text packet; a binary packet waits for its attachments.
pub(super) fn decode(
    text: &str,
    max_attachments: usize,
    limits: DecodeLimits,
) -> Result<Decoded, ParseError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(ParseError::Empty)?;
    let type_code = match first {
        b'0'..=b'6' => first - b'0',
        _ => return Err(ParseError::UnknownType(text.chars().next().unwrap_or('\0'))),
    };
    let mut i = 1;

    let mut attachments = 0;
    if type_code == 5 || type_code == 6 {
        let digits = count_digits(&bytes[i..]);
        if digits == 0 || bytes.get(i + digits) != Some(&b'-') {
            return Err(ParseError::IllegalAttachments);
        }
        attachments = text[i..i + digits]
            .parse::<usize>()
            .map_err(|_| ParseError::IllegalAttachments)?;
        if attachments == 0 || attachments > max_attachments {
            return Err(ParseError::IllegalAttachments);
        }
        i += digits + 1;
    }

    let ns = if bytes.get(i) == Some(&b'/') {
        let end = bytes[i..]
            .iter()
            .position(|&b| b == b',')
            .map_or(bytes.len(), |p| i + p);
        if end - i > MAX_NAMESPACE_BYTES {
            return Err(ParseError::NamespaceTooLong);
        }
        let ns = SmolStr::new(&text[i..end]);
        i = (end + 1).min(bytes.len());
        ns
    } else {
        SmolStr::new_static("/")
    };

    let digits = count_digits(&bytes[i..]);
    let id = if digits > 0 {
        let id = text[i..i + digits]
            .parse::<u64>()
            .map_err(|_| ParseError::InvalidAckId)?;
        i += digits;
        Some(id)
    } else {
        None
    };

    let payload = &text[i..];
    if attachments > 0 {
        return match type_code {
            5 => Ok(Decoded::NeedsAttachments(PendingBinary::event(
                ns,
                id,
                payload,
                attachments,
                limits,
            ))),
            _ => {
                let id = id.ok_or(ParseError::InvalidAckId)?;
                Ok(Decoded::NeedsAttachments(PendingBinary::ack(
                    ns,
                    id,
                    payload,
                    attachments,
                    limits,
                )))
            }
        };
    }
    let data = if payload.is_empty() {
        None
    } else {
        Some(json::decode(payload, None, limits.max_elements).map_err(ParseError::from)?)
    };
    build(ns, type_code, id, data).map(Decoded::Packet)
}

/// Checks the payload shape for the type and builds the packet.
pub(super) fn build(
    ns: SmolStr,
    type_code: u8,
    id: Option<u64>,
    data: Option<Value>,
) -> Result<Packet, ParseError> {
    let invalid = || ParseError::InvalidPayload(type_code);
    let kind = match (type_code, data) {
        (0, None) => PacketKind::Connect(None),
        (0, Some(data @ Value::Object(_))) => PacketKind::Connect(Some(data)),
        (1, None) => PacketKind::Disconnect,
        (2 | 5, Some(data)) => {
            let (name, args) = split_event(type_code, data)?;
            PacketKind::Event {
                name,
                args,
                ack: id,
            }
        }
        (3 | 6, Some(Value::Array(args))) => PacketKind::Ack {
            id: id.ok_or(ParseError::InvalidAckId)?,
            args,
        },
        (4, Some(data @ (Value::Object(_) | Value::String(_)))) => PacketKind::ConnectError(data),
        _ => return Err(invalid()),
    };
    Ok(Packet { ns, kind })
}

impl From<json::JsonError> for ParseError {
    fn from(e: json::JsonError) -> Self {
        match e {
            json::JsonError::TooManyElements(n) => ParseError::TooManyElements(n),
            json::JsonError::Syntax(e) => ParseError::InvalidJson(e.to_string()),
        }
    }
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}
