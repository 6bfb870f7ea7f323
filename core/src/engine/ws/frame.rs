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
        let (len, mut pos) = match b1 & 0x7f {
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
        let len = len as usize;
        let Some(mask) = input.get(pos..pos + 4) else {
            return Ok(None);
        };
        let mask = [mask[0], mask[1], mask[2], mask[3]];
        pos += 4;
        let Some(payload) = input.get(pos..pos + len) else {
            return Ok(None);
        };
        let consumed = pos + len;

        let event = match opcode {
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
        };
        Ok(Some((event, consumed)))
    }
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
mod tests {
    use super::*;

    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    fn decode_all(decoder: &mut Decoder, mut input: &[u8]) -> Result<Vec<WsEvent>, WsError> {
        let mut events = Vec::new();
        while let Some((event, used)) = decoder.decode(input)? {
            events.extend(event);
            input = &input[used..];
        }
        Ok(events)
    }

    #[test]
    fn compressed_messages_are_inflated_when_agreed() {
        use super::super::deflate::{Agreed, compress};
        let agreed = Agreed {
            window_bits: 15,
            threshold: 0,
            level: 6,
        };
        let text = format!("42[\"chat\",\"{}\"]", "hello ".repeat(100));
        let z = compress(&Bytes::from(text.clone()), &agreed).unwrap();
        let deflating = || Decoder::with_deflate(1 << 20);
        let whole = client_frame(true, 0x40 | OP_TEXT, &z);
        assert_eq!(
            decode_all(&mut deflating(), &whole).unwrap(),
            [WsEvent::Text(text.clone())]
        );
        // Fragmented: RSV1 on the first frame only, a ping in between.
        let (a, b) = z.split_at(z.len() / 2);
        let mut input = client_frame(false, 0x40 | OP_TEXT, a);
        input.extend(client_frame(true, OP_PING, b"p"));
        input.extend(client_frame(true, OP_CONTINUATION, b));
        assert_eq!(
            decode_all(&mut deflating(), &input).unwrap(),
            [
                WsEvent::Ping(Bytes::from_static(b"p")),
                WsEvent::Text(text.clone())
            ]
        );
        // RSV1 without the extension, on a continuation, on a control frame.
        assert!(decode_all(&mut Decoder::new(1 << 20), &whole).is_err());
        let mut continuation = client_frame(false, OP_TEXT, b"4");
        continuation.extend(client_frame(true, 0x40 | OP_CONTINUATION, b"x"));
        assert!(decode_all(&mut deflating(), &continuation).is_err());
        assert!(decode_all(&mut deflating(), &client_frame(true, 0x40 | OP_PING, b"")).is_err());
        // Corrupt data; a message that inflates past the limit.
        assert_eq!(
            decode_all(
                &mut deflating(),
                &client_frame(true, 0x40 | OP_BINARY, &[0xff; 8])
            ),
            Err(WsError::Protocol("invalid compressed message"))
        );
        assert_eq!(
            decode_all(&mut Decoder::with_deflate(100), &whole),
            Err(WsError::TooBig(100))
        );
    }

    #[test]
    fn decodes_messages_of_every_length_form() {
        for len in [0, 5, 125, 126, 65535, 65536, 200_000] {
            let payload = vec![b'a'; len];
            let frame = client_frame(true, OP_TEXT, &payload);
            let mut d = Decoder::new(1_000_000);
            // Every strict prefix is incomplete.
            for cut in [1, 2, frame.len() / 2, frame.len() - 1] {
                assert_eq!(
                    d.decode(&frame[..cut.min(frame.len() - 1)]).unwrap(),
                    None,
                    "len {len} cut {cut}"
                );
            }
            let (event, used) = d.decode(&frame).unwrap().unwrap();
            assert_eq!(used, frame.len());
            assert_eq!(
                event,
                Some(WsEvent::Text(String::from_utf8(payload).unwrap()))
            );
        }
    }

    #[test]
    fn joins_fragments_around_control_frames() {
        let mut input = client_frame(false, OP_BINARY, b"ab");
        input.extend(client_frame(true, OP_PING, b"hi"));
        input.extend(client_frame(false, OP_CONTINUATION, b"cd"));
        input.extend(client_frame(true, OP_CONTINUATION, b"e"));
        let events = decode_all(&mut Decoder::new(100), &input).unwrap();
        assert_eq!(
            events,
            vec![
                WsEvent::Ping(Bytes::from_static(b"hi")),
                WsEvent::Binary(Bytes::from_static(b"abcde"))
            ]
        );
    }

    #[test]
    fn refuses_protocol_violations() {
        let unmasked = [0x81u8, 0x01, b'a'];
        assert_eq!(
            Decoder::new(100).decode(&unmasked),
            Err(WsError::Protocol("client frames must be masked"))
        );
        let mut rsv = client_frame(true, OP_TEXT, b"a");
        rsv[0] |= 0x40;
        assert!(matches!(
            Decoder::new(100).decode(&rsv),
            Err(WsError::Protocol(_))
        ));
        let bad_opcode = client_frame(true, 0x3, b"a");
        assert!(matches!(
            Decoder::new(100).decode(&bad_opcode),
            Err(WsError::Protocol(_))
        ));
        let long_ping = client_frame(true, OP_PING, &[0; 126]);
        assert!(matches!(
            Decoder::new(1000).decode(&long_ping),
            Err(WsError::Protocol(_))
        ));
        let stray = client_frame(true, OP_CONTINUATION, b"a");
        assert!(matches!(
            Decoder::new(100).decode(&stray),
            Err(WsError::Protocol(_))
        ));
        let mut nested = client_frame(false, OP_TEXT, b"a");
        nested.extend(client_frame(true, OP_TEXT, b"b"));
        assert!(decode_all(&mut Decoder::new(100), &nested).is_err());
        let bad_utf8 = client_frame(true, OP_TEXT, &[0xff, 0xfe]);
        assert_eq!(
            Decoder::new(100).decode(&bad_utf8),
            Err(WsError::InvalidUtf8)
        );
        let huge = [0x82u8, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert!(Decoder::new(100).decode(&huge).is_err());
    }

    #[test]
    fn limits_message_size_including_fragments() {
        let too_big = client_frame(true, OP_BINARY, &[0; 11]);
        assert_eq!(Decoder::new(10).decode(&too_big), Err(WsError::TooBig(10)));
        let mut parts = client_frame(false, OP_BINARY, &[0; 6]);
        parts.extend(client_frame(true, OP_CONTINUATION, &[0; 6]));
        assert_eq!(
            decode_all(&mut Decoder::new(10), &parts),
            Err(WsError::TooBig(10))
        );
        // The limit is checked from the header: a lying length is refused
        // before any payload arrives.
        let header_only = &client_frame(true, OP_BINARY, &[0; 70_000])[..10];
        assert_eq!(
            Decoder::new(1000).decode(header_only),
            Err(WsError::TooBig(1000))
        );
    }

    #[test]
    fn reads_close_codes() {
        let close = client_frame(true, OP_CLOSE, &[0x03, 0xe8, b'b', b'y', b'e']);
        assert_eq!(
            decode_all(&mut Decoder::new(10), &close).unwrap(),
            vec![WsEvent::Close(Some(1000))]
        );
        let empty = client_frame(true, OP_CLOSE, &[]);
        assert_eq!(
            decode_all(&mut Decoder::new(10), &empty).unwrap(),
            vec![WsEvent::Close(None)]
        );
        let one = client_frame(true, OP_CLOSE, &[3]);
        assert!(Decoder::new(10).decode(&one).is_err());
    }

    #[test]
    fn encodes_length_forms() {
        for (len, header) in [(5usize, 2usize), (126, 4), (65536, 10)] {
            let mut out = BytesMut::new();
            encode(&mut out, OP_TEXT, &vec![b'x'; len]);
            assert_eq!(out.len(), header + len);
            assert_eq!(out[0], 0x81);
        }
    }
}
