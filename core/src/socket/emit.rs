//! `SocketEmitter`: emits to one socket, with the `volatile`, `timeout` and
//! `compress` flags of Node's `socket.volatile.timeout(…).emit(…)`.

use super::{AckError, AckFuture, AckSink, Socket};
use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
use crate::protocol::{Packet, RESERVED_EVENTS};
use crate::recovery::new_offset;
use crate::value::{Value, ValueError, to_value};
use serde::Serialize;
use std::time::Duration;
use tokio::sync::oneshot;

/// Why a packet could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The event name is reserved by the protocol.
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// The data could not be converted.
    #[error("cannot serialize the event data: {0}")]
    Serialize(#[from] ValueError),
    /// The packet could not be encoded.
    #[error("cannot encode the packet: {0}")]
    Encode(String),
    /// The socket is not connected.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The client is too slow and is being disconnected.
    #[error("the client's outgoing buffer is full")]
    BufferFull,
    /// This acknowledgement was already answered.
    #[error("the acknowledgement was already sent")]
    AckAlreadySent,
}

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
        AckFuture::waiting(rx, timeout, &self.socket.0, id)
    }
}

/// Refuses event names the client would misread.
pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}
