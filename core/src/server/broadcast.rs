//! The server's shortcuts to its main namespace `/`: `io.to(…)`,
//! `io.emit(…)`, as in Node.js.

use super::SocketIo;
use crate::adapter::{AdapterError, BroadcastAckFuture, JoinFuture};
use crate::operator::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::value::Value;
use crate::vocab::EmitError;
use serde::Serialize;
use std::time::Duration;

impl SocketIo {
    /// Targets members of rooms of `/`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Same as [`SocketIo::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of `/` except members of rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// Targets sockets of `/` on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Volatile delivery on `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").volatile()
    }

    /// Acknowledgement timeout for the next broadcast on `/`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.of("/").timeout(timeout)
    }

    /// Emits to every socket of `/`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.of("/").emit(event, data)
    }

    /// Emits to every socket of `/` with any number of arguments.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        self.of("/").emit_args(event, args)
    }

    /// Emits to every socket of `/` and collects their answers.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<BroadcastAckFuture, EmitError> {
        self.of("/").emit_with_ack(event, data)
    }

    /// Makes every socket of `/` join rooms, on every node.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> JoinFuture {
        self.of("/").sockets_join(rooms)
    }

    /// Makes every socket of `/` leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.of("/").sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self, close: bool) {
        self.of("/").disconnect_sockets(close)
    }

    /// Describes every socket of `/`.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.of("/").fetch_sockets().await
    }
}
