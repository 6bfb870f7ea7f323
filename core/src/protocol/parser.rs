//! The two wire formats a server can speak, and the dispatch of encoding
//! and decoding to each.

use super::binary::Decoded;
use super::error::{EncodeError, ParseError};
use super::packet::{DecodeLimits, Encoded, MAX_ATTACHMENTS, Packet};
use super::{json, msgpack};
use bytes::Bytes;

/// The wire format of a server; every client of the server must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parser {
    /// `socket.io-parser`: text packets, binary attachments as extra frames.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one MessagePack frame per packet.
    MsgPack,
}

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
