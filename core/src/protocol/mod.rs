//! Socket.IO v5 packets and their two wire formats.
//!
//! The default parser writes text packets (`2/chat,12["event",…]`) with binary
//! blobs moved to attachment frames behind placeholders; the MessagePack
//! parser (wire-compatible with `socket.io-msgpack-parser`) writes one binary
//! frame per packet. Decoding is strict: anything Node's parser refuses is
//! refused here with a [`ParseError`], and never panics.

mod binary;
mod json;
mod msgpack;

use crate::engine::Frame;
use crate::value::Value;
use bytes::Bytes;
use smol_str::SmolStr;

pub use binary::PendingBinary;

/// Event names the protocol reserves; a client may not send them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Most binary attachments one packet may announce (Node's default).
pub const MAX_ATTACHMENTS: usize = 10;

/// Longest namespace name a packet may carry, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 256;

/// Bounds on what decoding one packet may build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most values (each array, object, string, number… counts one) the
    /// packet's payload may hold. A packet over it is refused as malformed
    /// before more memory is spent on it. Default 100,000.
    pub max_elements: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_elements: 100_000,
        }
    }
}

/// One Socket.IO packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// Namespace, `/` by default.
    pub ns: SmolStr,
    /// What the packet carries.
    pub kind: PacketKind,
}

/// The packet types of protocol v5 (binary variants are chosen on encoding).
#[derive(Clone, Debug, PartialEq)]
pub enum PacketKind {
    /// CONNECT: the client's auth payload, or the server's `{sid, pid}`.
    Connect(Option<Value>),
    /// DISCONNECT from one namespace.
    Disconnect,
    /// EVENT or BINARY_EVENT.
    Event {
        /// Event name.
        name: String,
        /// Arguments after the name.
        args: Vec<Value>,
        /// Acknowledgement id, when the sender waits for an answer.
        ack: Option<u64>,
    },
    /// ACK or BINARY_ACK: the answer to an event sent with an ack id.
    Ack {
        /// The id of the event being answered.
        id: u64,
        /// Answer arguments.
        args: Vec<Value>,
    },
    /// CONNECT_ERROR: `{message, data?}`.
    ConnectError(Value),
}

impl Packet {
    /// An EVENT packet.
    pub fn event(ns: impl Into<SmolStr>, name: impl Into<String>, args: Vec<Value>) -> Self {
        Packet {
            ns: ns.into(),
            kind: PacketKind::Event {
                name: name.into(),
                args,
                ack: None,
            },
        }
    }

    /// The numeric type on the wire (binary types for JSON with attachments).
    pub(crate) fn type_code(&self, binary: bool) -> u8 {
        match (&self.kind, binary) {
            (PacketKind::Connect(_), _) => 0,
            (PacketKind::Disconnect, _) => 1,
            (PacketKind::Event { .. }, false) => 2,
            (PacketKind::Ack { .. }, false) => 3,
            (PacketKind::ConnectError(_), _) => 4,
            (PacketKind::Event { .. }, true) => 5,
            (PacketKind::Ack { .. }, true) => 6,
        }
    }
}

/// Why an incoming packet was refused. The connection is closed with the
/// reason "parse error".
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    /// The packet is empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// The attachment count of a binary packet is missing, zero or too large.
    #[error("illegal attachment count")]
    IllegalAttachments,
    /// The ack id is not a number that fits 64 bits.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The JSON payload does not parse.
    #[error("invalid JSON payload: {0}")]
    InvalidJson(String),
    /// The payload has the wrong shape for the packet type.
    #[error("invalid payload for packet type {0}")]
    InvalidPayload(u8),
    /// The event name is reserved by the protocol.
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
    /// A binary frame arrived when no binary packet was waiting for it.
    #[error("unexpected binary frame")]
    UnexpectedBinary,
    /// A text frame arrived while a binary packet still waited for attachments.
    #[error("text frame while {0} attachments are still expected")]
    UnexpectedText(usize),
    /// The MessagePack document is malformed.
    #[error("invalid msgpack packet: {0}")]
    InvalidMsgpack(String),
    /// The payload holds more values than the limit.
    #[error("payload with more than {0} values")]
    TooManyElements(usize),
    /// The namespace name is longer than [`MAX_NAMESPACE_BYTES`].
    #[error("namespace name longer than {MAX_NAMESPACE_BYTES} bytes")]
    NamespaceTooLong,
}

/// The wire format of a server; every client of the server must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parser {
    /// `socket.io-parser`: text packets, binary attachments as extra frames.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one MessagePack frame per packet.
    MsgPack,
}

/// A packet ready for the engine: one frame, or a text frame and its
/// binary attachments.
#[derive(Clone, Debug)]
pub enum Encoded {
    /// A single frame.
    One(Frame),
    /// A header frame followed by attachments, which must stay together.
    Many(Vec<Frame>),
}

impl Encoded {
    /// The same frames, never to be compressed (`compress(false)`).
    pub fn plain(self) -> Encoded {
        match self {
            Encoded::One(f) => Encoded::One(f.plain()),
            Encoded::Many(v) => Encoded::Many(v.into_iter().map(Frame::plain).collect()),
        }
    }

    /// The frames in order.
    pub fn frames(&self) -> &[Frame] {
        match self {
            Encoded::One(f) => std::slice::from_ref(f),
            Encoded::Many(v) => v,
        }
    }
}

/// The outcome of decoding one engine message.
#[derive(Debug)]
pub enum Decoded {
    /// A complete packet.
    Packet(Packet),
    /// A binary packet header: its attachments follow in the next frames.
    NeedsAttachments(PendingBinary),
}

/// Why a packet could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode packet: {0}")]
pub struct EncodeError(String);

impl Parser {
    /// Encodes a packet into engine frames.
    pub fn encode(self, packet: &Packet) -> Result<Encoded, EncodeError> {
        match self {
            Parser::Json => json::encode(packet),
            Parser::MsgPack => Ok(Encoded::One(msgpack::encode(packet))),
        }
    }

    /// Decodes a text engine message.
    pub fn decode_text(self, text: &str, limits: DecodeLimits) -> Result<Decoded, ParseError> {
        match self {
            Parser::Json => json::decode(text, MAX_ATTACHMENTS, limits),
            Parser::MsgPack => Err(ParseError::InvalidMsgpack("text frame".into())),
        }
    }

    /// Decodes a binary engine message that is not an attachment.
    pub fn decode_binary(self, data: Bytes, limits: DecodeLimits) -> Result<Packet, ParseError> {
        match self {
            Parser::Json => Err(ParseError::UnexpectedBinary),
            Parser::MsgPack => msgpack::decode(&data, limits),
        }
    }
}

/// Checks an EVENT payload as Node does: a non-empty array whose head is a
/// non-reserved string or a number, which becomes the event name.
pub(crate) fn split_event(type_code: u8, data: Value) -> Result<(String, Vec<Value>), ParseError> {
    let Value::Array(mut items) = data else {
        return Err(ParseError::InvalidPayload(type_code));
    };
    if items.is_empty() {
        return Err(ParseError::InvalidPayload(type_code));
    }
    let name = match items.remove(0) {
        Value::String(s) if RESERVED_EVENTS.contains(&s.as_str()) => {
            return Err(ParseError::ReservedEvent(s));
        }
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return Err(ParseError::InvalidPayload(type_code)),
    };
    Ok((name, items))
}

#[cfg(test)]
mod tests;
