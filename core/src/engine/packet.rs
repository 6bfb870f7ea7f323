//! Engine.IO v4 packets: outgoing frames and the parsing of incoming ones.
//!
//! Text packets are a type digit then data (`4hello`, `2probe`); a binary
//! message travels as a raw binary WebSocket frame, or as `b<base64>` in a
//! long-polling payload where packets are joined by `\x1e`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};

/// Separator of packets in a long-polling payload.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// One outgoing Engine.IO packet, already encoded.
///
/// A `Text` frame holds the whole text packet including its type digit
/// (`4…` for a message); a `Binary` frame holds a binary message's bytes.
/// Frames are cheap to clone: a broadcast shares one buffer among all
/// recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text packet: type digit and data.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A text packet never compressed (an emit's `compress(false)`).
    PlainText(Bytes),
    /// A binary message never compressed.
    PlainBinary(Bytes),
}

/// What a frame carries, whether it may be compressed or not.
#[derive(Clone, Copy, Debug)]
pub enum FrameView<'a> {
    /// A text packet.
    Text(&'a Bytes),
    /// A binary message.
    Binary(&'a Bytes),
}

impl Frame {
    /// A text message packet (`4` + text).
    pub fn message(text: &str) -> Frame {
        let mut out = BytesMut::with_capacity(text.len() + 1);
        out.extend_from_slice(b"4");
        out.extend_from_slice(text.as_bytes());
        Frame::Text(out.freeze())
    }

    pub(crate) const fn control(packet: &'static [u8]) -> Frame {
        Frame::Text(Bytes::from_static(packet))
    }

    /// What it carries.
    pub fn view(&self) -> FrameView<'_> {
        match self {
            Frame::Text(b) | Frame::PlainText(b) => FrameView::Text(b),
            Frame::Binary(b) | Frame::PlainBinary(b) => FrameView::Binary(b),
        }
    }

    /// Whether permessage-deflate may compress it.
    pub fn compressible(&self) -> bool {
        matches!(self, Frame::Text(_) | Frame::Binary(_))
    }

    /// The same frame, never to be compressed.
    pub fn plain(self) -> Frame {
        match self {
            Frame::Text(b) => Frame::PlainText(b),
            Frame::Binary(b) => Frame::PlainBinary(b),
            plain => plain,
        }
    }

    /// Bytes on the wire: the text, or the raw binary payload.
    pub fn len(&self) -> usize {
        match self.view() {
            FrameView::Text(b) | FrameView::Binary(b) => b.len(),
        }
    }

    /// Whether the frame carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) const CLOSE: Frame = Frame::control(b"1");
pub(crate) const PING: Frame = Frame::control(b"2");
pub(crate) const PONG: Frame = Frame::control(b"3");
pub(crate) const PONG_PROBE: Frame = Frame::control(b"3probe");
pub(crate) const NOOP: Frame = Frame::control(b"6");

/// A message delivered to the layer above the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// An incoming packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    Close,
    Ping { probe: bool },
    Pong,
    Message(Message),
    Upgrade,
    Noop,
}

/// Why an incoming packet is malformed (the session closes: "parse error").
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PacketError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    #[error("invalid base64 in a binary packet")]
    InvalidBase64,
    #[error("the open packet is sent by servers only")]
    UnexpectedOpen,
}

/// Parses one text packet (a WebSocket text frame, or one polling record).
pub(crate) fn parse_text(text: &str) -> Result<Incoming, PacketError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(PacketError::Empty)?;
    let data = chars.as_str();
    Ok(match kind {
        '0' => return Err(PacketError::UnexpectedOpen),
        '1' => Incoming::Close,
        '2' => Incoming::Ping {
            probe: data == "probe",
        },
        '3' => Incoming::Pong,
        '4' => Incoming::Message(Message::Text(data.to_owned())),
        '5' => Incoming::Upgrade,
        '6' => Incoming::Noop,
        'b' => {
            let bytes = BASE64
                .decode(data)
                .map_err(|_| PacketError::InvalidBase64)?;
            Incoming::Message(Message::Binary(Bytes::from(bytes)))
        }
        other => return Err(PacketError::UnknownType(other)),
    })
}

/// Parses a long-polling payload into its packets.
pub(crate) fn parse_payload(
    body: &str,
) -> impl Iterator<Item = Result<Incoming, PacketError>> + '_ {
    body.split(RECORD_SEPARATOR as char).map(parse_text)
}

/// Joins frames into a long-polling payload.
pub(crate) fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    let mut out = BytesMut::new();
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&[RECORD_SEPARATOR]);
        }
        match frame.view() {
            FrameView::Text(b) => out.extend_from_slice(b),
            FrameView::Binary(b) => {
                out.extend_from_slice(b"b");
                let start = out.len();
                out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
                let written = BASE64.encode_slice(b, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
            }
        }
    }
    out.freeze()
}

/// Encodes frames as a long-polling payload: records separated by `\x1e`,
/// binary ones as `b` and base64.
pub fn encode_polling_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    encode_payload(frames)
}

/// The messages of a long-polling payload a client sent (control packets
/// such as pongs are left out); a malformed record is an error.
pub fn decode_polling_payload(body: &str) -> Result<Vec<Message>, String> {
    let mut messages = Vec::new();
    for packet in parse_payload(body) {
        if let Incoming::Message(message) = packet.map_err(|e| e.to_string())? {
            messages.push(message);
        }
    }
    Ok(messages)
}

#[cfg(test)]
mod tests;
