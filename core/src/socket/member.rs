//! The handle the room index holds for a socket: delivery and the
//! adapter's socket operations, through the [`Member`] trait.

use super::Socket;
use super::ack::AckSink;
use crate::adapter::{AckEvent, JoinFuture, Member};
use crate::protocol::{Encoded, Packet};
use crate::vocab::{Room, SocketInfo};
use std::time::Instant;
use tokio::sync::mpsc;

impl Member for Socket {
    #[inline]
    fn deliver(&self, encoded: &Encoded, volatile: bool, packet: &Packet, since: Instant) -> bool {
        Socket::deliver(self, encoded, volatile, packet, since)
    }

    fn expect_ack(&self, id: u64, sink: mpsc::UnboundedSender<AckEvent>) {
        self.register_ack(id, AckSink::Broadcast(sink));
    }

    fn info(&self) -> SocketInfo {
        Socket::info(self)
    }

    fn join(&self, rooms: Vec<Room>) -> JoinFuture {
        Socket::join(self, rooms)
    }

    fn leave(&self, room: Room) {
        Socket::leave(self, room);
    }

    fn disconnect(&self, close: bool) {
        Socket::disconnect(self, close);
    }
}
