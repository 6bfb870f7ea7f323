//! Socket.IO v5 packets and their two wire formats.
//!
//! The default parser writes text packets (`2/chat,12["event",…]`) with binary
//! blobs moved to attachment frames behind placeholders; the MessagePack
//! parser (wire-compatible with `socket.io-msgpack-parser`) writes one binary
//! frame per packet. Decoding is strict: anything Node's parser refuses is
//! refused here with a [`ParseError`], and never panics.

mod binary;
mod error;
mod json;
mod msgpack;
mod packet;
mod parser;

pub use binary::{Decoded, PendingBinary};
pub use error::{EncodeError, ParseError};
pub use packet::{
    DecodeLimits, Encoded, MAX_ATTACHMENTS, MAX_NAMESPACE_BYTES, Packet, PacketKind,
    RESERVED_EVENTS,
};
pub use parser::Parser;

#[cfg(test)]
mod tests;
