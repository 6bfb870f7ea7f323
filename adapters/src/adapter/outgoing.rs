//! Sending a broadcast borrowed from its caller: the format writes it
//! straight from the packet and options, which the caller keeps for the
//! local delivery that follows.

use super::inner::AdapterInner;
use crate::format::Destination;
use crate::message::{BroadcastKind, BroadcastRef};
use switchyard_core::BroadcastOptions;
use switchyard_core::protocol::Packet;

impl AdapterInner {
    /// Sends a broadcast through the format without copying `packet` or
    /// `opts`; like [`AdapterInner::send`], what goes where heartbeats go
    /// counts as one.
    pub(crate) fn send_broadcast(
        &self,
        to: Destination<'_>,
        packet: &Packet,
        opts: &BroadcastOptions,
        kind: BroadcastKind<'_>,
    ) {
        let broadcast = BroadcastRef {
            uid: &self.cluster.uid,
            nsp: &self.ns,
            packet,
            opts,
            kind,
        };
        if let Some(encoded) = self.cluster.format.encode_broadcast(&broadcast, to) {
            self.publish_encoded(encoded);
        }
    }
}
