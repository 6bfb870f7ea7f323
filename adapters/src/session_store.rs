//! `SessionStore`: where a cluster keeps connection state recovery data —
//! lost sessions and the packets sent meanwhile — so that a client can
//! recover on any node, also after the node it was on died.
//!
//! A broker that can keep data (Redis keys and streams, NATS JetStream)
//! hands one out with [`Broker::session_store`](crate::Broker::session_store).
//! Without one, each node keeps what it delivered in memory and the others
//! ask it (see `ClusterAdapter`): recovery then works across nodes only
//! while the node that held the session lives.
//!
//! The encodings here are shared by every store: MessagePack maps, with
//! packets as Node's adapters carry them.

use crate::broker::error::{BoxFuture, BrokerError};
use crate::message::{MessageError, packet_from_value, packet_to_value};
use bytes::Bytes;
use smol_str::SmolStr;
use std::time::Duration;
use switchyard_core::protocol::Packet;
use switchyard_core::recovery::{LoggedPacket, RecoveredSession, SessionState, Unrecoverable};
use switchyard_core::value::{Map, from_msgpack, to_msgpack};
use switchyard_core::{Room, Sid, Value, from_value, to_value};

/// Keeps lost sessions and recent packets for a limited time.
pub trait SessionStore: Send + Sync + 'static {
    /// Keeps a packet of namespace `ns` for `keep`. Never blocks; packets
    /// of one node are kept in the order they were sent.
    fn append(&self, ns: &SmolStr, packet: &LoggedPacket, keep: Duration);

    /// Keeps a session of namespace `ns` for `keep`. Never blocks.
    fn save(&self, ns: &SmolStr, session: &SessionState, keep: Duration);

    /// Takes a session (it can be taken once); `None` when it is unknown or
    /// expired. Costs one round trip.
    fn take(&self, ns: &SmolStr, pid: &Sid)
    -> BoxFuture<Result<Option<SessionState>, BrokerError>>;

    /// The packets sent after `offset` that a socket in `rooms` missed, at
    /// most `max_bytes` of them; the inner error when the offset is not
    /// kept (or not an offset) or more was missed. An unknown offset costs
    /// a bounded number of round trips (offsets carry their time: see
    /// `recovery::offset_millis`), and nothing beyond `max_bytes` of missed
    /// packets is held.
    fn missed(
        &self,
        ns: &SmolStr,
        offset: &str,
        rooms: &[Room],
        keep: Duration,
        max_bytes: usize,
    ) -> BoxFuture<Result<Result<Vec<Packet>, Unrecoverable>, BrokerError>>;
}

fn invalid(what: impl Into<String>) -> MessageError {
    MessageError::Invalid(what.into())
}

/// A kept packet as a value: `{offset, packet, opts}`.
pub fn packet_value(packet: &LoggedPacket) -> Value {
    let mut map = Map::new();
    map.insert("offset".into(), Value::from(packet.offset.as_str()));
    map.insert("packet".into(), packet_to_value(&packet.packet));
    map.insert("opts".into(), to_value(&packet.opts).unwrap_or(Value::Null));
    Value::Object(map)
}

/// Reads a kept packet of namespace `ns`.
pub fn packet_from(value: Value, ns: &SmolStr) -> Result<LoggedPacket, MessageError> {
    let Value::Object(mut map) = value else {
        return Err(invalid("a kept packet is a map"));
    };
    let offset = match map.swap_remove("offset") {
        Some(Value::String(s)) => SmolStr::from(s),
        _ => return Err(invalid("kept packet offset")),
    };
    let packet = packet_from_value(map.swap_remove("packet").unwrap_or(Value::Null), ns)?;
    let opts = from_value(map.swap_remove("opts").unwrap_or(Value::Null))
        .map_err(|e| invalid(format!("kept packet opts: {e}")))?;
    Ok(LoggedPacket {
        offset,
        packet,
        opts,
    })
}

/// A kept packet's bytes.
pub fn encode_packet(packet: &LoggedPacket) -> Bytes {
    Bytes::from(to_msgpack(&packet_value(packet)))
}

/// Reads a kept packet's bytes.
pub fn decode_packet(bytes: &[u8], ns: &SmolStr) -> Result<LoggedPacket, MessageError> {
    let value = from_msgpack(&Bytes::copy_from_slice(bytes))?
        .ok_or_else(|| invalid("an empty kept packet"))?;
    packet_from(value, ns)
}

/// A session's bytes.
pub fn encode_session(session: &SessionState) -> Bytes {
    Bytes::from(to_msgpack(&to_value(session).unwrap_or(Value::Null)))
}

/// Reads a session's bytes.
pub fn decode_session(bytes: &[u8]) -> Result<SessionState, MessageError> {
    let value =
        from_msgpack(&Bytes::copy_from_slice(bytes))?.ok_or_else(|| invalid("an empty session"))?;
    from_value(value).map_err(|e| invalid(format!("session: {e}")))
}

/// A session as a value (what a node answers a `TakeSession` with).
pub fn session_value(session: &SessionState) -> Value {
    to_value(session).unwrap_or(Value::Null)
}

/// Reads a session a node answered with.
pub fn session_from(value: Value) -> Result<SessionState, MessageError> {
    from_value(value).map_err(|e| invalid(format!("session: {e}")))
}

/// Missed packets as a value (what a node answers a `MissedSince` with).
pub fn packets_value(packets: &[Packet]) -> Value {
    Value::Array(packets.iter().map(packet_to_value).collect())
}

/// Reads the missed packets of namespace `ns` a node answered with.
pub fn packets_from(value: Value, ns: &SmolStr) -> Result<Vec<Packet>, MessageError> {
    let Value::Array(packets) = value else {
        return Err(invalid("missed packets"));
    };
    packets
        .into_iter()
        .map(|p| packet_from_value(p, ns))
        .collect()
}

/// A recovered session as a value: `{session, missed: [packet]}`.
pub fn recovered_value(recovered: &RecoveredSession) -> Value {
    let mut map = Map::new();
    map.insert(
        "session".into(),
        to_value(&recovered.session).unwrap_or(Value::Null),
    );
    map.insert(
        "missed".into(),
        Value::Array(recovered.missed.iter().map(packet_to_value).collect()),
    );
    Value::Object(map)
}

/// Reads a recovered session of namespace `ns`.
pub fn recovered_from(value: Value, ns: &SmolStr) -> Result<RecoveredSession, MessageError> {
    let Value::Object(mut map) = value else {
        return Err(invalid("a recovered session is a map"));
    };
    let session = from_value(map.swap_remove("session").unwrap_or(Value::Null))
        .map_err(|e| invalid(format!("session: {e}")))?;
    let Some(Value::Array(missed)) = map.swap_remove("missed") else {
        return Err(invalid("missed packets"));
    };
    let missed = missed
        .into_iter()
        .map(|p| packet_from_value(p, ns))
        .collect::<Result<_, _>>()?;
    Ok(RecoveredSession { session, missed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::BroadcastOptions;
    use switchyard_core::protocol::Packet;

    #[test]
    fn round_trips() {
        let ns = SmolStr::new("/chat");
        let logged = LoggedPacket {
            offset: "abc1".into(),
            packet: Packet::event(
                "/chat",
                "e",
                vec![Value::Binary(Bytes::from_static(&[1])), Value::from("abc1")],
            ),
            opts: BroadcastOptions {
                rooms: vec!["r".into()],
                ..Default::default()
            },
        };
        assert_eq!(decode_packet(&encode_packet(&logged), &ns).unwrap(), logged);
        let session = SessionState {
            sid: "s".into(),
            pid: "p".into(),
            rooms: vec!["s".into(), "r".into()],
            data: Value::from(3),
            user: Some("ann".into()),
        };
        assert_eq!(decode_session(&encode_session(&session)).unwrap(), session);
        let recovered = RecoveredSession {
            session,
            missed: vec![logged.packet.clone()],
        };
        assert_eq!(
            recovered_from(recovered_value(&recovered), &ns).unwrap(),
            recovered
        );
        assert!(decode_packet(b"\xc1", &ns).is_err());
        assert!(decode_session(b"").is_err());
    }
}
