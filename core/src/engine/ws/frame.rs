//! RFC 6455 framing, server side: parses masked client frames (with
//! fragmentation and interleaved control frames) and writes unmasked frames.
//! The one extension is permessage-deflate: with it, RSV1 on a message's
//! first frame marks it compressed; every other RSV bit must be zero.

use bytes::{BufMut, Bytes, BytesMut};

pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xa;

/// Close codes (RFC 6455 §7.4.1).
pub(crate) const CLOSE_NORMAL: u16 = 1000;
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;
pub(crate) const CLOSE_INVALID_DATA: u16 = 1007;
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WsEvent {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    Close(Option<u16>),
}

/// A framing error: the connection is closed with `close_code()`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum WsError {
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    #[error("websocket message larger than {0} bytes")]
    TooBig(usize),
    #[error("websocket text message is not UTF-8")]
    InvalidUtf8,
}

impl WsError {
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => CLOSE_PROTOCOL,
            WsError::TooBig(_) => CLOSE_TOO_BIG,
            WsError::InvalidUtf8 => CLOSE_INVALID_DATA,
        }
    }
}

/// Parses client frames, keeping the state of a fragmented message.
pub(crate) struct Decoder {
    max_message: usize,
    /// permessage-deflate was agreed: compressed messages are inflated.
    deflate: bool,
    /// The first opcode, whether compressed, and the data so far.
    fragments: Option<(u8, bool, Vec<u8>)>,
}

impl Decoder {
    pub fn new(max_message: usize) -> Self {
        Decoder {
            max_message,
            deflate: false,
            fragments: None,
        }
    }

    /// A decoder for a connection that agreed on permessage-deflate.
    pub fn with_deflate(max_message: usize) -> Self {
        Decoder {
            deflate: true,
            ..Decoder::new(max_message)
        }
    }

    /// Bytes of a fragmented message held so far.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn buffered(&self) -> usize {
        self.fragments.as_ref().map_or(0, |(_, _, data)| data.len())
    }

    /// Parses one frame from the start of `input`. Returns the event it
    /// completes (if any) and the bytes consumed, or `None` when `input`
    /// does not yet hold a whole frame.
    pub fn decode(&mut self, input: &[u8]) -> Result<Option<(Option<WsEvent>, usize)>, WsError> {
        let Some(header) = self.header(input)? else {
            return Ok(None);
        };
        let Some(payload) = input.get(header.start..header.start + header.len) else {
            return Ok(None);
        };
        let event = self.event(&header, payload)?;
        Ok(Some((event, header.start + header.len)))
    }

    /// Reads and checks a frame's header, or `None` when `input` does not
    /// hold all of it yet.
    #[inline]
    fn header(&self, input: &[u8]) -> Result<Option<Header>, WsError> {
        let [b0, b1, ..] = *input else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        let compressed = b0 & 0x40 != 0;
        if b0 & 0x30 != 0 || (compressed && !self.deflate) {
            return Err(WsError::Protocol("reserved bits set without an extension"));
        }
        if compressed && !matches!(opcode, OP_TEXT | OP_BINARY) {
            return Err(WsError::Protocol(
                "RSV1 set on a frame that does not start a message",
            ));
        }
        if b1 & 0x80 == 0 {
            return Err(WsError::Protocol("client frames must be masked"));
        }
        let Some((len, pos)) = payload_length(input, b1)? else {
            return Ok(None);
        };
        let is_control = opcode & 0x8 != 0;
        if is_control && (len > 125 || !fin) {
            return Err(WsError::Protocol(
                "control frames must be short and unfragmented",
            ));
        }
        let buffered = self
            .fragments
            .as_ref()
            .map_or(0, |(_, _, data)| data.len() as u64);
        if !is_control && len + buffered > self.max_message as u64 {
            return Err(WsError::TooBig(self.max_message));
        }
        let Some(mask) = input.get(pos..pos + 4) else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin,
            opcode,
            compressed,
            len: len as usize,
            mask: [mask[0], mask[1], mask[2], mask[3]],
            start: pos + 4,
        }))
    }

    /// What a whole frame completes: a message, a control event, or
    /// nothing yet (a fragment).
    #[inline]
    fn event(&mut self, header: &Header, payload: &[u8]) -> Result<Option<WsEvent>, WsError> {
        let Header {
            fin,
            opcode,
            compressed,
            len,
            mask,
            ..
        } = *header;
        Ok(match opcode {
            OP_TEXT | OP_BINARY => {
                if self.fragments.is_some() {
                    return Err(WsError::Protocol("new message inside a fragmented one"));
                }
                let data = unmask(payload, mask, Vec::with_capacity(len));
                if fin {
                    Some(self.finish_message(opcode, compressed, data)?)
                } else {
                    self.fragments = Some((opcode, compressed, data));
                    None
                }
            }
            OP_CONTINUATION => {
                let Some((first, compressed, data)) = self.fragments.as_mut() else {
                    return Err(WsError::Protocol("continuation without a message"));
                };
                let (first, compressed) = (*first, *compressed);
                let data = unmask(payload, mask, std::mem::take(data));
                if fin {
                    self.fragments = None;
                    Some(self.finish_message(first, compressed, data)?)
                } else {
                    self.fragments = Some((first, compressed, data));
                    None
                }
            }
            OP_CLOSE => {
                let data = unmask(payload, mask, Vec::with_capacity(len));
                Some(WsEvent::Close(close_code(&data)?))
            }
            OP_PING => Some(WsEvent::Ping(Bytes::from(unmask(
                payload,
                mask,
                Vec::with_capacity(len),
            )))),
            OP_PONG => Some(WsEvent::Pong),
            _ => return Err(WsError::Protocol("unknown opcode")),
        })
    }
}

/// A client frame's header.
#[derive(Clone, Copy)]
struct Header {
    fin: bool,
    opcode: u8,
    /// RSV1: the message is deflated.
    compressed: bool,
    /// Payload bytes.
    len: usize,
    mask: [u8; 4],
    /// Where the payload starts.
    start: usize,
}

/// The payload length and where the mask starts, from the length byte `b1`
/// and what follows it; `None` when `input` does not hold it yet.
#[inline]
fn payload_length(input: &[u8], b1: u8) -> Result<Option<(u64, usize)>, WsError> {
    Ok(Some(match b1 & 0x7f {
        126 => match input.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match input.get(2..10) {
            Some(b) => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(b);
                let len = u64::from_be_bytes(raw);
                if len >> 63 != 0 {
                    return Err(WsError::Protocol("payload length has its top bit set"));
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    }))
}

impl Decoder {
    /// A whole message: inflated if compressed (at most the message limit),
    /// then text checked to be UTF-8.
    fn finish_message(
        &self,
        opcode: u8,
        compressed: bool,
        data: Vec<u8>,
    ) -> Result<WsEvent, WsError> {
        let data = if compressed {
            super::deflate::inflate(&data, self.max_message).map_err(|e| match e {
                super::deflate::InflateError::TooBig => WsError::TooBig(self.max_message),
                super::deflate::InflateError::Corrupt => {
                    WsError::Protocol("invalid compressed message")
                }
            })?
        } else {
            data
        };
        message(opcode, data)
    }
}

fn unmask(payload: &[u8], mask: [u8; 4], mut out: Vec<u8>) -> Vec<u8> {
    out.reserve(payload.len());
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

fn message(opcode: u8, data: Vec<u8>) -> Result<WsEvent, WsError> {
    if opcode == OP_TEXT {
        String::from_utf8(data)
            .map(WsEvent::Text)
            .map_err(|_| WsError::InvalidUtf8)
    } else {
        Ok(WsEvent::Binary(Bytes::from(data)))
    }
}

fn close_code(data: &[u8]) -> Result<Option<u16>, WsError> {
    match data {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("close payload of one byte")),
        [a, b, reason @ ..] => {
            if std::str::from_utf8(reason).is_err() {
                return Err(WsError::InvalidUtf8);
            }
            Ok(Some(u16::from_be_bytes([*a, *b])))
        }
    }
}

/// Appends an unmasked server frame.
pub(crate) fn encode(out: &mut BytesMut, opcode: u8, payload: &[u8]) {
    encode_prefixed(out, opcode, &[], payload);
}

/// Appends one frame of a deflated message (RSV1 set).
pub(crate) fn encode_compressed(out: &mut BytesMut, opcode: u8, payload: &[u8]) {
    encode_prefixed(out, 0x40 | opcode, &[], payload);
}

/// Appends one frame whose payload is `prefix` then `payload`.
pub(crate) fn encode_prefixed(out: &mut BytesMut, opcode: u8, prefix: &[u8], payload: &[u8]) {
    let len = prefix.len() + payload.len();
    out.reserve(len + 10);
    out.put_u8(0x80 | opcode);
    match len {
        n if n < 126 => out.put_u8(n as u8),
        n if n <= 0xffff => {
            out.put_u8(126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(127);
            out.put_u64(n as u64);
        }
    }
    out.put_slice(prefix);
    out.put_slice(payload);
}

/// Appends a close frame with a status code.
pub(crate) fn encode_close(out: &mut BytesMut, code: u16) {
    encode(out, OP_CLOSE, &code.to_be_bytes());
}

#[cfg(test)]
mod tests;
