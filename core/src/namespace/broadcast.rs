//! Acting on the namespace's sockets through its adapter, on every node:
//! broadcast operators, `fetch_sockets`, joins and leaves, and events to
//! the other servers.

use super::Namespace;
use crate::adapter::{AdapterError, BroadcastAckFuture, JoinFuture, Partial, ServerSideAck};
use crate::operator::{BroadcastOperator, IntoRooms, RemoteSocket, Scope};
use crate::value::Value;
use crate::vocab::EmitError;
use serde::Serialize;
use std::time::Duration;

impl Namespace {
    /// An operator on every socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.scope())
    }

    /// Targets the members of rooms.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Namespace::to`] (`in` in Node.js).
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket except the members of rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets sockets on this node only.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// Volatile delivery: dropped for clients not ready to receive.
    pub fn volatile(&self) -> BroadcastOperator {
        self.broadcast().volatile()
    }

    /// Acknowledgement timeout of the next `emit_with_ack`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.broadcast().timeout(timeout)
    }

    /// Emits an event with one argument to every socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// Emits an event with any number of arguments to every socket.
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        self.broadcast().emit_args(event, args)
    }

    /// Emits to every socket and collects their answers (see
    /// [`BroadcastOperator::emit_with_ack`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<BroadcastAckFuture, EmitError> {
        Ok(Box::pin(self.broadcast().emit_with_ack(event, data)?))
    }

    /// Describes every socket of the namespace, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.broadcast().fetch_sockets().await
    }

    /// Makes every socket join rooms, on every node (see
    /// [`BroadcastOperator::sockets_join`]).
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> JoinFuture {
        self.broadcast().sockets_join(rooms)
    }

    /// Makes every socket leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.broadcast().sockets_leave(rooms)
    }

    /// Disconnects every socket.
    pub fn disconnect_sockets(&self, close: bool) {
        self.broadcast().disconnect_sockets(close)
    }

    /// Emits an event to the same namespace on the other servers.
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(), AdapterError> {
        self.0
            .adapter
            .server_side_emit(event, args, None)
            .await
            .map(|_| ())
    }

    /// Emits to the other servers and collects their answers.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Partial<Vec<ServerSideAck>>, AdapterError> {
        self.0
            .adapter
            .server_side_emit(event, args, Some(timeout))
            .await
    }

    /// How many servers serve this namespace.
    pub async fn server_count(&self) -> usize {
        self.0.adapter.server_count().await
    }

    /// What a broadcast operator needs of this namespace.
    fn scope(&self) -> Scope {
        Scope {
            name: self.0.name.clone(),
            adapter: self.0.adapter.clone(),
            recoverable: self.0.config.recovery.is_some(),
            ack_timeout: self.0.config.ack_timeout,
        }
    }
}
