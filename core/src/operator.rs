//! Broadcast operators (`to`, `except`, `local`, `volatile`, `timeout`) and
//! the sockets `fetch_sockets` returns.

use crate::adapter::{Adapter, BroadcastAckError, JoinFuture};
use crate::handshake::Handshake;
use crate::protocol::Packet;
use crate::recovery::new_offset;
use crate::sid::Sid;
use crate::value::{Value, to_value};
use crate::vocab::{AdapterError, BroadcastOptions, EmitError, Room, SocketInfo, check_event};
use serde::Serialize;
use smol_str::SmolStr;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Anything naming one or more rooms.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::new(self)]
    }
}
impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}
impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::new(self)]
    }
}
impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}
impl IntoRooms for Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::new(self.as_str())]
    }
}
impl IntoRooms for &Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::new(self.as_str())]
    }
}
impl<T: Into<Room>> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(Into::into).collect()
    }
}
impl<T: Into<Room> + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().cloned().map(Into::into).collect()
    }
}
impl<T: Into<Room>, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(Into::into).collect()
    }
}

/// What an operator needs of its namespace: the name, the adapter and two
/// settings. Operators act through the [`Adapter`] trait only.
#[derive(Clone)]
pub(crate) struct Scope {
    /// The namespace's name.
    pub name: SmolStr,
    /// The namespace's adapter.
    pub adapter: Arc<dyn Adapter>,
    /// Connection state recovery is on: broadcasts carry offsets.
    pub recoverable: bool,
    /// Default acknowledgement timeout.
    pub ack_timeout: Duration,
}

impl Scope {
    fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    fn name(&self) -> &SmolStr {
        &self.name
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish()
    }
}

/// A selection of sockets to emit to or act on.
#[derive(Clone, Debug)]
#[must_use = "an operator does nothing until an action such as emit is called"]
pub struct BroadcastOperator {
    ns: Scope,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Scope) -> Self {
        BroadcastOperator {
            ns,
            opts: BroadcastOptions::default(),
        }
    }

    /// Adds rooms to target (several calls add up).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// Same as [`BroadcastOperator::to`] (`in` in Node.js).
    pub fn in_(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the members of rooms.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.except.contains(&room) {
                self.opts.except.push(room);
            }
        }
        self
    }

    /// This node only.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// May be dropped for clients not ready to receive.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Compression hint (kept for parity with Node.js; no effect).
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.flags.compress = Some(compress);
        self
    }

    /// Acknowledgement timeout for [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// The selection.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits an event with one argument.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_args(event, vec![to_value(data)?])
    }

    /// Emits an event with any number of arguments.
    pub fn emit_args(&self, event: &str, mut args: Vec<Value>) -> Result<(), EmitError> {
        check_event(event)?;
        let adapter = self.ns.adapter();
        if self.ns.recoverable && !self.opts.flags.volatile {
            // Kept for sockets that come back; the offset tells the client
            // where it is.
            let offset = new_offset();
            args.push(Value::from(offset.as_str()));
            let packet = Packet::event(self.ns.name().clone(), event, args);
            adapter.broadcast_recoverable(packet, &self.opts, offset);
        } else {
            adapter.broadcast(
                Packet::event(self.ns.name().clone(), event, args),
                &self.opts,
            );
        }
        Ok(())
    }

    /// Emits and collects one answer per client (each client's first ack
    /// argument), from every node, until all have answered or the timeout
    /// (default: the server's `ack_timeout`) passes.
    ///
    /// The packet is sent when this is called; the returned future only
    /// collects answers. A timeout error carries the answers that arrived.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<
        impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static,
        EmitError,
    > {
        self.emit_with_ack_args(event, vec![to_value(data)?])
    }

    /// [`BroadcastOperator::emit_with_ack`] with any number of arguments.
    pub fn emit_with_ack_args(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<
        impl Future<Output = Result<Vec<Value>, BroadcastAckError>> + Send + 'static,
        EmitError,
    > {
        check_event(event)?;
        let timeout = self.opts.flags.timeout.unwrap_or(self.ns.ack_timeout);
        let packet = Packet::event(self.ns.name().clone(), event, args);
        Ok(self
            .ns
            .adapter()
            .broadcast_with_ack(packet, &self.opts, timeout))
    }

    /// Describes the selected sockets, on every node. Sockets of nodes that
    /// did not answer in time are missing (see [`AdapterError::Timeout`] via
    /// [`BroadcastOperator::fetch_sockets_partial`]).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        Ok(self.fetch_sockets_partial().await?.0)
    }

    /// Like [`BroadcastOperator::fetch_sockets`], also saying how many nodes
    /// did not answer.
    pub async fn fetch_sockets_partial(&self) -> Result<(Vec<RemoteSocket>, usize), AdapterError> {
        let partial = self.ns.adapter().fetch_sockets(&self.opts).await?;
        let sockets = partial
            .items
            .into_iter()
            .map(|info| RemoteSocket::new(self.ns.clone(), info))
            .collect();
        Ok((sockets, partial.missing))
    }

    /// Makes the selected sockets join rooms, on every node. The returned
    /// future resolves once every node confirmed (see [`JoinFuture`]);
    /// dropping it does not undo the join.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> JoinFuture {
        self.ns
            .adapter()
            .add_sockets(&self.opts, &rooms.into_rooms())
    }

    /// Makes the selected sockets leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.ns
            .adapter()
            .del_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Disconnects the selected sockets; `close` also closes their connections.
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns.adapter().disconnect_sockets(&self.opts, close);
    }
}

/// A socket found by `fetch_sockets`, on this node or another. Actions go
/// through the adapter, so they work wherever the socket is.
#[derive(Clone, Debug)]
pub struct RemoteSocket {
    /// Socket id.
    pub id: Sid,
    /// Rooms, its own included.
    pub rooms: Vec<Room>,
    /// Handshake details.
    pub handshake: Handshake,
    /// The socket's data.
    pub data: Value,
    /// The socket's user (presence), when named.
    pub user: Option<SmolStr>,
    /// The connection's transport (`polling`, `websocket`), when its node
    /// said (Node.js servers do not).
    pub transport: Option<SmolStr>,
    /// The connection's public id, when its node said.
    pub client_id: Option<SmolStr>,
    ns: Scope,
}

impl RemoteSocket {
    fn new(ns: Scope, info: SocketInfo) -> Self {
        RemoteSocket {
            id: info.id,
            rooms: info.rooms,
            handshake: info.handshake,
            data: info.data,
            user: info.user,
            transport: info.transport,
            client_id: info.client_id,
            ns,
        }
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone()).to(self.id.clone())
    }

    /// Emits to this socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.operator().emit(event, data)
    }

    /// Emits to this socket and waits for its answer (its first argument).
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<Value, BroadcastAckError> {
        let collect = self
            .operator()
            .timeout(timeout)
            .emit_with_ack(event, data)
            .map_err(|e| {
                tracing::warn!(error = %e, "emit to a remote socket not sent");
                BroadcastAckError {
                    responses: Vec::new(),
                    expected: None,
                }
            })?;
        let mut answers = collect.await?;
        answers.pop().ok_or(BroadcastAckError {
            responses: Vec::new(),
            expected: Some(0),
        })
    }

    /// Makes the socket join rooms (see [`BroadcastOperator::sockets_join`]).
    pub fn join(&self, rooms: impl IntoRooms) -> JoinFuture {
        self.operator().sockets_join(rooms)
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.operator().sockets_leave(rooms)
    }

    /// Disconnects the socket.
    pub fn disconnect(&self, close: bool) {
        self.operator().disconnect_sockets(close)
    }
}
