//! Delivery: how packets reach a socket's connection — queued at once, or
//! kept back while the socket is connecting or being recovered.

use super::hold;
use super::{ACK_PRUNE_THRESHOLD, AckSink, Socket};
use crate::engine::{CloseReason, Push};
use crate::limits::Refused;
use crate::protocol::{Encoded, Packet, PacketKind};
use crate::value::Value;
use crate::vocab::EmitError;
use smol_str::SmolStr;
use std::sync::atomic::Ordering;

impl Socket {
    /// Queues an encoded packet; `false` if it was not queued.
    pub(crate) fn push(&self, encoded: &Encoded, volatile: bool) -> bool {
        self.0.session.push(encoded.frames(), volatile, None) == Push::Queued
    }

    /// Delivers a broadcast packet: queued, or kept back while the socket
    /// is being recovered (see `hold`). `false` if it was not delivered.
    /// `since`: when the broadcast was emitted on this node (or arrived).
    pub(crate) fn deliver(
        &self,
        encoded: &Encoded,
        volatile: bool,
        packet: &Packet,
        since: std::time::Instant,
    ) -> bool {
        if let Some(observer) = self.0.ns.observer() {
            observer.event_sent(self, packet);
        }
        if !self.0.offered.load(Ordering::Relaxed) && crate::recovery::has_offset(packet) {
            self.0.offered.store(true, Ordering::Relaxed);
        }
        match self.keep(encoded, volatile, packet) {
            hold::Kept::Deliver => {
                self.0.session.push(encoded.frames(), volatile, Some(since)) == Push::Queued
            }
            hold::Kept::Held | hold::Kept::Duplicate => true,
            hold::Kept::Overflow => false,
        }
    }

    /// Keeps a delivery back while the socket is held (connecting, or being
    /// recovered); past the client's budget the client is disconnected.
    pub(super) fn keep(&self, encoded: &Encoded, volatile: bool, packet: &Packet) -> hold::Kept {
        let budget = self.0.session.buffer_budget();
        let kept = self.0.hold.keep(encoded, volatile, packet, budget);
        if let hold::Kept::Overflow = kept {
            crate::refused!(Refused::ClientBuffer, sid = %self.0.id, "too much arrived while connecting: disconnecting");
            let session = self.0.session.clone();
            tokio::spawn(async move { session.close(CloseReason::OutgoingBufferFull) });
        }
        kept
    }

    /// Keeps deliveries back until [`Socket::release`] (while connecting:
    /// nothing may precede the CONNECT reply, nor, when recovering, the
    /// replay).
    pub(crate) fn hold(&self) {
        self.0.hold.begin();
    }

    /// Sends `first` (the CONNECT reply, then the replay), then what was
    /// kept back and is not in the replay (by offset), and ends the hold.
    pub(crate) fn release(&self) {
        self.0.hold.release(|encoded, volatile| {
            self.push(encoded, volatile);
        });
    }

    /// What [`Socket::release`] sends before what was kept back: the
    /// CONNECT reply and the replay, with the replay's offsets.
    pub(crate) fn prepare_release(
        &self,
        first: Vec<Encoded>,
        replayed: std::collections::HashSet<SmolStr>,
    ) {
        self.0.hold.prepare(first, replayed);
    }

    pub(crate) fn push_packet(
        &self,
        packet: &Packet,
        volatile: bool,
        compress: bool,
    ) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        if let Some(observer) = self.0.ns.observer()
            && matches!(packet.kind, PacketKind::Event { .. })
        {
            observer.event_sent(self, packet);
        }
        let encoded = self
            .0
            .ns
            .parser()
            .encode(packet)
            .map_err(|e| EmitError::Encode(e.to_string()))?;
        let encoded = if compress { encoded } else { encoded.plain() };
        match self.keep(&encoded, volatile, packet) {
            hold::Kept::Deliver => {}
            hold::Kept::Held | hold::Kept::Duplicate => return Ok(()),
            hold::Kept::Overflow => return Err(EmitError::BufferFull),
        }
        match self.0.session.push(encoded.frames(), volatile, None) {
            Push::Queued | Push::DroppedVolatile => Ok(()),
            Push::Closed => Err(EmitError::Disconnected),
            Push::Overflow => Err(EmitError::BufferFull),
        }
    }

    pub(crate) fn send_ack(&self, id: u64, args: Vec<Value>) -> Result<(), EmitError> {
        let packet = Packet {
            ns: self.0.ns.name().clone(),
            kind: PacketKind::Ack { id, args },
        };
        self.push_packet(&packet, false, true)
    }

    pub(crate) fn register_ack(&self, id: u64, sink: AckSink) {
        let mut acks = self.0.acks.lock();
        if acks.len() >= ACK_PRUNE_THRESHOLD {
            // Broadcast acks whose emitter stopped waiting are dropped here.
            acks.retain(|_, sink| !sink.is_abandoned());
        }
        acks.insert(id, sink);
    }
}
