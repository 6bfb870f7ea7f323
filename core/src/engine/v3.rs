//! Engine.IO protocol v3, for the clients of Socket.IO v2 (`allow_eio3`).
//!
//! What differs from v4 on the wire: the client pings and the server
//! answers; a binary message over WebSocket carries its packet type (`4`)
//! as a first byte; and a long-polling payload is framed differently.
//!
//! - Text payloads: each packet as `<length>:<packet>`, the length counted
//!   in UTF-16 code units (JavaScript string length), binary messages as
//!   `b4<base64>`.
//! - Binary payloads (`application/octet-stream`, used when the client can
//!   take binary and a binary message is among the packets): each packet as
//!   a byte `0` (text) or `1` (binary), the length's decimal digits as bytes
//!   `0..=9`, a byte `255`, then the packet: UTF-8 text, or the type byte
//!   `4` and the message's bytes. Lengths count bytes.

use super::packet::{Frame, FrameView, Incoming, Message, PacketError, parse_text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};

/// The packet type of a message, as a byte before a binary message's data
/// (in binary payloads and v3 WebSocket binary frames).
pub(crate) const MESSAGE: u8 = 4;
/// The end of a length in a binary payload.
const LENGTH_END: u8 = 255;
/// Digits a length may have: a payload is bounded far below 10^10 bytes.
const MAX_LENGTH_DIGITS: usize = 10;

/// Whether a request's client takes binary (it asks for base64 with a
/// non-empty `b64` parameter). Fixed for a transport by the request that
/// opened it: the handshake, or the WebSocket upgrade.
pub(crate) fn takes_binary<S: AsRef<str>>(query: &[(S, S)]) -> bool {
    super::query::query_param(query, "b64").is_none_or(str::is_empty)
}

/// The content type of a binary payload.
pub(crate) const BINARY_PAYLOAD: &str = "application/octet-stream";

/// Encodes frames as a v3 polling payload: binary framing when the client
/// takes binary and one of the frames is binary, text framing otherwise.
/// Returns the payload and whether it is binary.
pub(crate) fn encode_payload<'a>(
    frames: impl IntoIterator<Item = &'a Frame> + Clone,
    binary_ok: bool,
) -> (Bytes, bool) {
    let binary = binary_ok
        && frames
            .clone()
            .into_iter()
            .any(|f| matches!(f.view(), FrameView::Binary(_)));
    let mut out = BytesMut::new();
    for frame in frames {
        match (frame.view(), binary) {
            (FrameView::Text(text), false) => {
                out.put_slice(utf16_len(text).to_string().as_bytes());
                out.put_u8(b':');
                out.put_slice(text);
            }
            (FrameView::Binary(data), false) => {
                let packet = base64_message(data);
                out.put_slice(packet.len().to_string().as_bytes());
                out.put_u8(b':');
                out.put_slice(packet.as_bytes());
            }
            (FrameView::Text(text), true) => {
                binary_header(&mut out, 0, text.len());
                out.put_slice(text);
            }
            (FrameView::Binary(data), true) => {
                binary_header(&mut out, 1, data.len() + 1);
                out.put_u8(MESSAGE);
                out.put_slice(data);
            }
        }
    }
    (out.freeze(), binary)
}

fn binary_header(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    out.extend(len.to_string().bytes().map(|d| d - b'0'));
    out.put_u8(LENGTH_END);
}

/// The length of UTF-8 text in UTF-16 code units. Text frames are valid
/// UTF-8 (they are built from strings); anything else counts its bytes.
fn utf16_len(text: &[u8]) -> usize {
    match std::str::from_utf8(text) {
        Ok(text) => text.chars().map(char::len_utf16).sum(),
        Err(_) => text.len(),
    }
}

/// Why a v3 payload is malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PayloadError {
    #[error("malformed length in a payload")]
    Length,
    #[error("a packet's length runs past the payload")]
    Truncated,
    #[error("text in a binary payload is not UTF-8")]
    NotUtf8,
    #[error("a binary packet that is not a message")]
    BinaryType,
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// Decodes a text payload (a POST body) into its packets; a malformed
/// packet ends it with an error, after the packets before it.
pub(crate) fn decode_text_payload(body: &str) -> Vec<Result<Incoming, PayloadError>> {
    collect(|packets| text_packets(body, packets))
}

/// The packets `read` yields, then its error if it stops on one.
fn collect(
    read: impl FnOnce(&mut Vec<Result<Incoming, PayloadError>>) -> Result<(), PayloadError>,
) -> Vec<Result<Incoming, PayloadError>> {
    let mut packets = Vec::new();
    if let Err(e) = read(&mut packets) {
        packets.push(Err(e));
    }
    packets
}

fn text_packets(
    body: &str,
    packets: &mut Vec<Result<Incoming, PayloadError>>,
) -> Result<(), PayloadError> {
    let mut rest = body;
    if rest.is_empty() {
        return Err(PayloadError::Length);
    }
    while !rest.is_empty() {
        let colon = rest
            .bytes()
            .take(MAX_LENGTH_DIGITS + 1)
            .position(|b| b == b':')
            .ok_or(PayloadError::Length)?;
        let digits = &rest[..colon];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PayloadError::Length);
        }
        let len: usize = digits.parse().map_err(|_| PayloadError::Length)?;
        rest = &rest[colon + 1..];
        if len == 0 {
            // An empty packet, skipped as Node's parser does.
            continue;
        }
        // Walk `len` UTF-16 code units; the byte length follows.
        let mut units = 0;
        let mut end = 0;
        for c in rest.chars() {
            if units >= len {
                break;
            }
            units += c.len_utf16();
            end += c.len_utf8();
        }
        if units != len {
            return Err(PayloadError::Truncated);
        }
        let (packet, tail) = rest.split_at(end);
        rest = tail;
        packets.push(Ok(decode_text_packet(packet)?));
    }
    Ok(())
}

/// One text packet (of a payload, or a WebSocket text frame): a v4 text
/// packet, or a binary message as `b4<base64>`.
pub(crate) fn decode_text_packet(packet: &str) -> Result<Incoming, PayloadError> {
    match packet.strip_prefix('b') {
        Some(rest) => {
            let data = rest.strip_prefix('4').ok_or(PayloadError::BinaryType)?;
            let bytes = BASE64
                .decode(data)
                .map_err(|_| PacketError::InvalidBase64)?;
            Ok(Incoming::Message(Message::Binary(Bytes::from(bytes))))
        }
        None => Ok(parse_text(packet)?),
    }
}

/// Decodes a binary payload (an `application/octet-stream` POST body); a
/// malformed packet ends it with an error, after the packets before it.
pub(crate) fn decode_binary_payload(body: &Bytes) -> Vec<Result<Incoming, PayloadError>> {
    collect(|packets| binary_packets(body, packets))
}

fn binary_packets(
    body: &Bytes,
    packets: &mut Vec<Result<Incoming, PayloadError>>,
) -> Result<(), PayloadError> {
    let mut at = 0;
    if body.is_empty() {
        return Err(PayloadError::Length);
    }
    while at < body.len() {
        let kind = body[at];
        at += 1;
        let mut len: usize = 0;
        let mut digits = 0;
        loop {
            let digit = *body.get(at).ok_or(PayloadError::Truncated)?;
            at += 1;
            if digit == LENGTH_END {
                break;
            }
            digits += 1;
            if digit > 9 || digits > MAX_LENGTH_DIGITS {
                return Err(PayloadError::Length);
            }
            len = len
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(digit)))
                .ok_or(PayloadError::Length)?;
        }
        if digits == 0 {
            return Err(PayloadError::Length);
        }
        let end = at.checked_add(len).ok_or(PayloadError::Truncated)?;
        if end > body.len() {
            return Err(PayloadError::Truncated);
        }
        let packet = body.slice(at..end);
        at = end;
        packets.push(Ok(match kind {
            0 => {
                let text = std::str::from_utf8(&packet).map_err(|_| PayloadError::NotUtf8)?;
                decode_text_packet(text)?
            }
            1 => decode_binary_packet(packet)?,
            _ => return Err(PayloadError::Length),
        }));
    }
    Ok(())
}

/// A binary WebSocket frame or binary payload packet: the type byte, then
/// a message's bytes.
pub(crate) fn decode_binary_packet(packet: Bytes) -> Result<Incoming, PayloadError> {
    match packet.first() {
        Some(&MESSAGE) => Ok(Incoming::Message(Message::Binary(packet.slice(1..)))),
        _ => Err(PayloadError::BinaryType),
    }
}

/// A binary message as a text packet, for clients that take no binary.
pub(crate) fn base64_message(data: &[u8]) -> String {
    let mut text = String::with_capacity(2 + data.len().div_ceil(3) * 4);
    text.push_str("b4");
    BASE64.encode_string(data, &mut text);
    text
}

#[cfg(test)]
mod tests;
