//! The shared vocabulary of the Socket.IO layer: rooms, broadcast options,
//! what `fetch_sockets` learns about a socket, and the errors and results of
//! adapter operations. Everything above (adapters, sockets, namespaces, the
//! broadcast operator) speaks these types; this module depends on none of them.

use crate::handshake::Handshake;
use crate::protocol::RESERVED_EVENTS;
use crate::sid::Sid;
use crate::value::{Value, ValueError};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A room name. Every socket is also in a room named after its id.
pub type Room = SmolStr;

/// A boxed future, as adapters return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which sockets an operation targets, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BroadcastOptions {
    /// Target the members of these rooms; empty means every socket.
    pub rooms: Vec<Room>,
    /// Leave out the members of these rooms.
    pub except: Vec<Room>,
    /// Delivery flags.
    pub flags: BroadcastFlags,
}

/// Delivery flags of a broadcast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastFlags {
    /// This node only.
    #[serde(default)]
    pub local: bool,
    /// May be dropped for clients that are not ready to receive.
    #[serde(default)]
    pub volatile: bool,
    /// Compression hint (permessage-deflate is not negotiated; kept for the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Acknowledgement timeout.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "millis")]
    pub timeout: Option<Duration>,
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64)))
    }
}

impl BroadcastOptions {
    /// Targets one socket (its own room).
    pub fn socket(id: &Sid) -> Self {
        BroadcastOptions {
            rooms: vec![Room::new(id.as_str())],
            ..Default::default()
        }
    }
}

/// What `fetch_sockets` learns about a socket, on this node or another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// Socket id.
    pub id: Sid,
    /// Handshake details.
    pub handshake: Handshake,
    /// Rooms, its own included.
    pub rooms: Vec<Room>,
    /// The socket's data (`socket.set_data`); Node leaves it out when unset.
    #[serde(default)]
    pub data: Value,
    /// The socket's user (presence), when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SmolStr>,
    /// The connection's transport (`polling`, `websocket`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<SmolStr>,
    /// The connection's public id (see [`Socket::client_id`](crate::Socket::client_id)),
    /// when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SmolStr>,
}

/// Why an adapter operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// Some nodes did not answer in time; what arrived is kept.
    #[error("{missing} node(s) did not answer within the timeout")]
    Timeout {
        /// How many nodes stayed silent.
        missing: usize,
    },
    /// The broker failed.
    #[error("broker error: {0}")]
    Broker(String),
    /// The adapter is closed.
    #[error("adapter closed")]
    Closed,
}

/// The outcome of an operation across nodes that may have partial results.
#[derive(Debug)]
pub struct Partial<T> {
    /// What arrived.
    pub items: T,
    /// Nodes that did not answer (dropped or timed out); 0 when complete.
    pub missing: usize,
}

/// An acknowledgement from another node to a server-side emit.
pub type ServerSideAck = Value;

/// What an adapter holds in memory beyond its rooms (for metrics, and for
/// soaks that check nothing is left behind once every client is gone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdapterHeld {
    /// Connection state recovery: packets and sessions kept in this node's
    /// memory, expired ones dropped first.
    pub recovery_entries: usize,
    /// Requests to other nodes still waiting for answers.
    pub pending_requests: usize,
}

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

/// Refuses event names the client would misread.
pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// The answer to another server's `server_side_emit`.
pub struct ServerAck(Box<dyn FnOnce(Value) + Send>);

impl ServerAck {
    /// Wraps the function that delivers the answer.
    pub fn new(f: impl FnOnce(Value) + Send + 'static) -> Self {
        ServerAck(Box::new(f))
    }

    /// Sends the answer.
    pub fn send(self, value: Value) {
        (self.0)(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_serialize_with_millisecond_timeouts() {
        let opts = BroadcastOptions {
            rooms: vec!["a".into()],
            except: vec![],
            flags: BroadcastFlags {
                volatile: true,
                timeout: Some(Duration::from_millis(1500)),
                ..Default::default()
            },
        };
        let json = serde_json::to_value(&opts).unwrap();
        assert_eq!(json["flags"]["timeout"], 1500);
        let back: BroadcastOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, opts);
        let minimal: BroadcastOptions =
            serde_json::from_str(r#"{"rooms":[],"except":[],"flags":{}}"#).unwrap();
        assert_eq!(minimal, BroadcastOptions::default());
    }
}
