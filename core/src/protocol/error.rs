//! Why a packet could not be decoded or encoded.

use super::packet::MAX_NAMESPACE_BYTES;

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

/// Why a packet could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode packet: {0}")]
pub struct EncodeError(pub(crate) String);
