//! Emitting to one socket: `socket.emit(…)` and the `SocketEmitter` behind
//! `socket.volatile().timeout(…).emit(…)`, with Node's flags.

use super::ack::PendingAcks;
use super::{AckError, AckFuture, AckSink, Socket};
use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
use crate::protocol::Packet;
use crate::recovery::new_offset;
use crate::value::{Value, to_value};
use crate::vocab::{EmitError, check_event};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Emits to one socket with flags. Built by [`Socket::volatile`],
/// [`Socket::timeout`] or [`Socket::compress`].
#[must_use = "an emitter does nothing until emit is called"]
pub struct SocketEmitter<'a> {
    socket: &'a Socket,
    volatile: bool,
    timeout: Option<Duration>,
    compress: bool,
}

impl<'a> SocketEmitter<'a> {
    pub(crate) fn new(socket: &'a Socket) -> Self {
        SocketEmitter {
            socket,
            volatile: false,
            timeout: None,
            compress: true,
        }
    }

    /// The packet may be dropped if the client is not ready for it.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// How long to wait for the acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// With `false`, the packet goes uncompressed even where
    /// permessage-deflate was agreed (as Node's `socket.compress(false)`).
    /// Default true: compressed from the threshold up.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Emits an event with one argument.
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_args(event, vec![to_value(data)?])
    }

    /// Emits an event with any number of arguments.
    pub fn emit_args(self, event: &str, mut args: Vec<Value>) -> Result<(), EmitError> {
        check_event(event)?;
        let ns = self.socket.ns();
        if ns.recovery().is_some() && !self.volatile {
            // As Node does: through the adapter to the socket's own room, so
            // the packet gets an offset and is kept for recovery.
            if !self.socket.connected() {
                return Err(EmitError::Disconnected);
            }
            let offset = new_offset();
            args.push(Value::from(offset.as_str()));
            let opts = BroadcastOptions {
                rooms: vec![Room::new(self.socket.id().as_str())],
                flags: BroadcastFlags {
                    local: true,
                    compress: Some(self.compress),
                    ..BroadcastFlags::default()
                },
                ..BroadcastOptions::default()
            };
            let packet = Packet::event(ns.name().clone(), event, args);
            ns.adapter().broadcast_recoverable(packet, &opts, offset);
            return Ok(());
        }
        let packet = Packet::event(ns.name().clone(), event, args);
        self.socket
            .push_packet(&packet, self.volatile, self.compress)
    }

    /// Emits an event with one argument and waits for the answer.
    pub fn emit_with_ack<T: Serialize + ?Sized>(self, event: &str, data: &T) -> AckFuture {
        match to_value(data) {
            Ok(value) => self.emit_with_ack_args(event, vec![value]),
            Err(e) => AckFuture::failed(AckError::Emit(e.into())),
        }
    }

    /// Emits an event with any number of arguments and waits for the answer.
    pub fn emit_with_ack_args(self, event: &str, args: Vec<Value>) -> AckFuture {
        if let Err(e) = check_event(event) {
            return AckFuture::failed(e.into());
        }
        let ns = self.socket.ns();
        let id = ns.next_ack_id();
        let mut packet = Packet::event(ns.name().clone(), event, args);
        if let crate::protocol::PacketKind::Event { ack, .. } = &mut packet.kind {
            *ack = Some(id);
        }
        let (tx, rx) = oneshot::channel();
        self.socket.register_ack(id, AckSink::Single(tx));
        if let Err(e) = self
            .socket
            .push_packet(&packet, self.volatile, self.compress)
        {
            self.socket.0.acks.lock().remove(&id);
            return AckFuture::failed(e.into());
        }
        let timeout = self.timeout.unwrap_or_else(|| ns.ack_timeout());
        let pending: std::sync::Weak<dyn PendingAcks> = Arc::downgrade(&self.socket.0) as _;
        AckFuture::waiting(rx, timeout, pending, id)
    }
}

impl Socket {
    /// Emits an event with one argument.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        SocketEmitter::new(self).emit(event, data)
    }

    /// Emits an event with any number of arguments.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        SocketEmitter::new(self).emit_args(event, args)
    }

    /// Emits an event and waits for the client's answer (default timeout:
    /// the server's `ack_timeout`).
    pub fn emit_with_ack<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> AckFuture {
        SocketEmitter::new(self).emit_with_ack(event, data)
    }

    /// Emits with any number of arguments and waits for the answer.
    pub fn emit_with_ack_args(&self, event: &str, args: Vec<Value>) -> AckFuture {
        SocketEmitter::new(self).emit_with_ack_args(event, args)
    }

    /// The next emit may be dropped if the client is not ready for it.
    pub fn volatile(&self) -> SocketEmitter<'_> {
        SocketEmitter::new(self).volatile()
    }

    /// The next emit's acknowledgement timeout.
    pub fn timeout(&self, timeout: std::time::Duration) -> SocketEmitter<'_> {
        SocketEmitter::new(self).timeout(timeout)
    }

    /// Compression hint for the next emit (accepted for API parity).
    pub fn compress(&self, compress: bool) -> SocketEmitter<'_> {
        SocketEmitter::new(self).compress(compress)
    }
}
