//! Socket.IO packets: their kinds, the limits on decoding them, the
//! payload shape each kind takes, and the frames one is encoded to.

use super::error::ParseError;
use crate::engine::Frame;
use crate::value::Value;
use smol_str::SmolStr;

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

/// Checks the payload shape for the type and builds the packet.
pub(crate) fn build(
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
