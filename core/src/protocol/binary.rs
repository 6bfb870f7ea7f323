//! Reassembly of a binary packet from its header and attachment frames.

use super::error::ParseError;
use super::packet::{DecodeLimits, Packet, build};
use crate::value::json;
use bytes::Bytes;
use smol_str::SmolStr;

/// The outcome of decoding one engine message.
#[derive(Debug)]
pub enum Decoded {
    /// A complete packet.
    Packet(Packet),
    /// A binary packet header: its attachments follow in the next frames.
    NeedsAttachments(PendingBinary),
}

/// A BINARY_EVENT or BINARY_ACK header waiting for its attachments.
#[derive(Debug)]
pub struct PendingBinary {
    ns: SmolStr,
    type_code: u8,
    id: Option<u64>,
    payload: String,
    expected: usize,
    attachments: Vec<Bytes>,
    limits: DecodeLimits,
}

impl PendingBinary {
    pub(crate) fn event(
        ns: SmolStr,
        id: Option<u64>,
        payload: &str,
        expected: usize,
        limits: DecodeLimits,
    ) -> Self {
        Self::new(ns, 5, id, payload, expected, limits)
    }

    pub(crate) fn ack(
        ns: SmolStr,
        id: u64,
        payload: &str,
        expected: usize,
        limits: DecodeLimits,
    ) -> Self {
        Self::new(ns, 6, Some(id), payload, expected, limits)
    }

    fn new(
        ns: SmolStr,
        type_code: u8,
        id: Option<u64>,
        payload: &str,
        expected: usize,
        limits: DecodeLimits,
    ) -> Self {
        PendingBinary {
            ns,
            type_code,
            id,
            payload: payload.to_owned(),
            expected,
            attachments: Vec::with_capacity(expected),
            limits,
        }
    }

    /// How many attachments are still expected.
    pub fn missing(&self) -> usize {
        self.expected - self.attachments.len()
    }

    /// Adds the next attachment; returns the packet once all have arrived.
    pub fn add(&mut self, attachment: Bytes) -> Option<Result<Packet, ParseError>> {
        self.attachments.push(attachment);
        if self.attachments.len() < self.expected {
            return None;
        }
        Some(self.finish())
    }

    fn finish(&mut self) -> Result<Packet, ParseError> {
        if self.payload.is_empty() {
            return Err(ParseError::InvalidPayload(self.type_code));
        }
        let data = json::decode(
            &self.payload,
            Some(&self.attachments),
            self.limits.max_elements,
        )?;
        build(
            std::mem::take(&mut self.ns),
            self.type_code,
            self.id,
            Some(data),
        )
    }
}
