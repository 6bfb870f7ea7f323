//! The default parser's text format:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`.

use super::binary::{Decoded, PendingBinary};
use super::error::{EncodeError, ParseError};
use super::packet::{DecodeLimits, Encoded, MAX_NAMESPACE_BYTES, Packet, PacketKind, build};
use crate::engine::Frame;
use crate::value::{Value, json};
use bytes::{BufMut, Bytes};
use smol_str::SmolStr;

/// Encodes a packet as a text frame, plus binary frames for its blobs.
pub(crate) fn encode(packet: &Packet) -> Result<Encoded, EncodeError> {
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
pub(crate) fn decode(
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
    let attachments = if type_code == 5 || type_code == 6 {
        read_attachments(text, &mut i, max_attachments)?
    } else {
        0
    };
    let ns = read_namespace(text, &mut i)?;
    let id = read_ack_id(text, &mut i)?;

    let payload = &text[i..];
    if attachments > 0 {
        return wait_for_attachments(type_code, ns, id, payload, attachments, limits);
    }
    let data = if payload.is_empty() {
        None
    } else {
        Some(json::decode(payload, None, limits.max_elements).map_err(ParseError::from)?)
    };
    build(ns, type_code, id, data).map(Decoded::Packet)
}

/// The attachment count of a binary packet, `<n>-` at `*i`.
fn read_attachments(
    text: &str,
    i: &mut usize,
    max_attachments: usize,
) -> Result<usize, ParseError> {
    let bytes = text.as_bytes();
    let digits = count_digits(&bytes[*i..]);
    if digits == 0 || bytes.get(*i + digits) != Some(&b'-') {
        return Err(ParseError::IllegalAttachments);
    }
    let attachments = text[*i..*i + digits]
        .parse::<usize>()
        .map_err(|_| ParseError::IllegalAttachments)?;
    if attachments == 0 || attachments > max_attachments {
        return Err(ParseError::IllegalAttachments);
    }
    *i += digits + 1;
    Ok(attachments)
}

/// The namespace, `/<name>,` at `*i`, or `/` when there is none.
fn read_namespace(text: &str, i: &mut usize) -> Result<SmolStr, ParseError> {
    let bytes = text.as_bytes();
    if bytes.get(*i) != Some(&b'/') {
        return Ok(SmolStr::new_static("/"));
    }
    let end = bytes[*i..]
        .iter()
        .position(|&b| b == b',')
        .map_or(bytes.len(), |p| *i + p);
    if end - *i > MAX_NAMESPACE_BYTES {
        return Err(ParseError::NamespaceTooLong);
    }
    let ns = SmolStr::new(&text[*i..end]);
    *i = (end + 1).min(bytes.len());
    Ok(ns)
}

/// The ack id, digits at `*i`, if any.
fn read_ack_id(text: &str, i: &mut usize) -> Result<Option<u64>, ParseError> {
    let digits = count_digits(&text.as_bytes()[*i..]);
    if digits == 0 {
        return Ok(None);
    }
    let id = text[*i..*i + digits]
        .parse::<u64>()
        .map_err(|_| ParseError::InvalidAckId)?;
    *i += digits;
    Ok(Some(id))
}

/// A BINARY_EVENT or BINARY_ACK header: the packet waits for its
/// attachments.
fn wait_for_attachments(
    type_code: u8,
    ns: SmolStr,
    id: Option<u64>,
    payload: &str,
    attachments: usize,
    limits: DecodeLimits,
) -> Result<Decoded, ParseError> {
    match type_code {
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
    }
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
