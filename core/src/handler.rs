//! What user code plugs into the server and what it is given: connection,
//! event and disconnect handlers, middlewares, server-event handlers, the
//! [`Observer`], and the [`Event`] and [`Ack`] an event handler receives.
//! They are run by [`inline::run`](crate::inline::run).
//!
//! One file, because these types and [`Socket`] name each other: a socket
//! holds its handlers, and every handler is given the socket.

use crate::engine::{CloseReason, TransportKind};
use crate::protocol::Packet;
use crate::sid::Sid;
use crate::socket::Socket;
use crate::socket::reason::DisconnectReason;
use crate::value::{Value, ValueError, from_value, to_value};
use crate::vocab::{BoxFuture, EmitError, Room, ServerAck};
use serde::Serialize;
use serde::de::DeserializeOwned;
use smol_str::SmolStr;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Called when a socket connects to a namespace.
pub trait ConnectHandler: Send + Sync + 'static {
    /// Handles a new socket.
    fn call(&self, socket: Socket) -> BoxFuture<()>;
}

impl<F, Fut> ConnectHandler for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<()> {
        Box::pin(self(socket))
    }
}

/// Called for an event from the client.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event.
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()>;
}

impl<F, Fut> EventHandler for F
where
    F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        Box::pin(self(socket, event))
    }
}

/// Called when a socket leaves a namespace.
pub trait DisconnectHandler: Send + Sync + 'static {
    /// Handles a disconnection.
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<()>;
}

impl<F, Fut> DisconnectHandler for F
where
    F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<()> {
        Box::pin(self(socket, reason))
    }
}

/// A namespace middleware: runs before a socket connects and may refuse it.
pub trait Middleware: Send + Sync + 'static {
    /// Checks a connecting socket (its handshake and auth are readable, its
    /// data writable).
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectError>>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<Result<(), ConnectError>> {
        Box::pin(self(socket))
    }
}

/// Called for an event another server sent with `server_side_emit`.
pub trait ServerEventHandler: Send + Sync + 'static {
    /// Handles the event; `ack`, when present, answers the emitting server.
    fn call(&self, args: Vec<Value>, ack: Option<ServerAck>) -> BoxFuture<()>;
}

impl<F, Fut> ServerEventHandler for F
where
    F: Fn(Vec<Value>, Option<ServerAck>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, args: Vec<Value>, ack: Option<ServerAck>) -> BoxFuture<()> {
        Box::pin(self(args, ack))
    }
}

/// A middleware's refusal, sent as CONNECT_ERROR `{message, data}`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// Shown to the client as `err.message`.
    pub message: String,
    /// Shown to the client as `err.data`.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds details for the client.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }
}

/// The answer handle of an event the client sent with an ack id. Clones
/// share it: the first answer is sent, later ones are refused.
#[derive(Clone)]
pub struct Ack {
    socket: Socket,
    id: u64,
    sent: Arc<AtomicBool>,
}

impl Ack {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        Ack {
            socket,
            id,
            sent: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Answers with one argument.
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.send_args(vec![to_value(data)?])
    }

    /// Answers with any number of arguments (`ack(...args)` in Node).
    pub fn send_args(&self, args: Vec<Value>) -> Result<(), EmitError> {
        if self.sent.swap(true, Ordering::AcqRel) {
            return Err(EmitError::AckAlreadySent);
        }
        self.socket.send_ack(self.id, args)
    }

    /// The ack id the client chose.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// An event from the client.
#[derive(Clone)]
pub struct Event {
    /// Event name.
    pub name: String,
    /// Arguments (the ack callback, if any, is [`Event::ack`]).
    pub args: Vec<Value>,
    /// Present when the client waits for an answer.
    pub ack: Option<Ack>,
}

impl Event {
    /// Argument `index` converted to `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, ValueError> {
        from_value(self.args.get(index).cloned().unwrap_or(Value::Null))
    }

    /// Argument `index` moved out (left `Null`) and converted to `T`.
    pub fn take_arg<T: DeserializeOwned>(&mut self, index: usize) -> Result<T, ValueError> {
        from_value(
            self.args
                .get_mut(index)
                .map(std::mem::take)
                .unwrap_or(Value::Null),
        )
    }

    /// All arguments converted to `T` (a tuple, or a `Vec`).
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(Value::Array(self.args.clone()))
    }

    /// Answers the client with one argument; does nothing when the client
    /// asked for no answer.
    pub fn ack<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send(data),
            None => Ok(()),
        }
    }

    /// Answers the client with these arguments; does nothing when the
    /// client asked for no answer.
    pub fn ack_args(&self, args: Vec<Value>) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send_args(args),
            None => Ok(()),
        }
    }
}

/// What a server tells its observer. Every method does nothing by default.
#[allow(unused_variables)]
pub trait Observer: Send + Sync + 'static {
    /// An Engine.IO session opened over `transport`.
    fn session_opened(&self, transport: TransportKind) {}

    /// An Engine.IO session closed.
    fn session_closed(&self, reason: CloseReason) {}

    /// A socket connected to its namespace (before the connection
    /// handlers run).
    fn socket_connected(&self, socket: &Socket) {}

    /// The connection of a socket moved to WebSocket.
    fn socket_upgraded(&self, socket: &Socket) {}

    /// A socket left its namespace (before the disconnect handlers run).
    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {}

    /// A socket of this node joined a room it was not in.
    fn room_joined(&self, ns: &SmolStr, room: &Room, sid: &Sid) {}

    /// A socket of this node left a room.
    fn room_left(&self, ns: &SmolStr, room: &Room, sid: &Sid) {}

    /// A socket sent an event.
    fn event_received(&self, socket: &Socket, event: &str, args: &[Value]) {}

    /// An event was queued for a socket: emitted to it, or broadcast.
    fn event_sent(&self, socket: &Socket, packet: &Packet) {}
}
