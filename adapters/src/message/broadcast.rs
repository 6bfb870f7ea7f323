//! A broadcast borrowed from the adapter that sends it ([`BroadcastRef`]),
//! written as MessagePack straight from the borrowed packet and options:
//! the bytes [`ClusterMessage::encode`] writes for the same broadcast,
//! without copying the packet or building a `Value` tree.

use super::{Body, ClusterMessage, RequestId};
use crate::broker::channel::NodeId;
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::value::msgpack::{
    write_array_len, write_map_len, write_str, write_uint, write_value,
};
use switchyard_core::{BroadcastOptions, Value};

/// What a broadcast carries besides its packet and targeting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BroadcastKind<'a> {
    /// Delivered and forgotten: [`Body::Broadcast`] without a request id.
    Plain,
    /// The emitter waits for acknowledgements: [`Body::Broadcast`] with
    /// this request id.
    WithAck(&'a RequestId),
    /// Kept for connection state recovery: [`Body::RecoverableBroadcast`]
    /// with this offset (the packet's last argument).
    Recoverable(&'a SmolStr),
}

/// A broadcast borrowed from its sender: what a [`ClusterMessage`] with a
/// [`Body::Broadcast`] or [`Body::RecoverableBroadcast`] holds, owned by
/// nobody here, so that sending it copies nothing.
#[derive(Clone, Copy, Debug)]
pub struct BroadcastRef<'a> {
    /// The sending node.
    pub uid: &'a NodeId,
    /// The namespace.
    pub nsp: &'a SmolStr,
    /// The EVENT packet.
    pub packet: &'a Packet,
    /// Targeting.
    pub opts: &'a BroadcastOptions,
    /// Plain, acknowledged or recoverable.
    pub kind: BroadcastKind<'a>,
}

impl BroadcastRef<'_> {
    /// The owned message, copying the packet and options: for formats
    /// that only encode owned messages, and for tests.
    pub fn to_message(&self) -> ClusterMessage {
        let (packet, opts) = (self.packet.clone(), self.opts.clone());
        let body = match self.kind {
            BroadcastKind::Plain => Body::Broadcast {
                packet,
                opts,
                request_id: None,
            },
            BroadcastKind::WithAck(id) => Body::Broadcast {
                packet,
                opts,
                request_id: Some(id.clone()),
            },
            BroadcastKind::Recoverable(offset) => Body::RecoverableBroadcast {
                packet,
                opts,
                offset: offset.clone(),
            },
        };
        ClusterMessage {
            uid: self.uid.clone(),
            nsp: self.nsp.clone(),
            body,
        }
    }

    /// The MessagePack bytes: those of [`ClusterMessage::encode`] for
    /// [`Self::to_message`], `{uid, nsp, type: 3, data: {packet, opts,
    /// requestId? | offset?}}`.
    pub fn encode(&self) -> Bytes {
        // A chat-sized broadcast fits without growing.
        let mut out = Vec::with_capacity(512);
        write_map_len(&mut out, 4);
        write_str(&mut out, "uid");
        write_str(&mut out, self.uid);
        write_str(&mut out, "nsp");
        write_str(&mut out, self.nsp);
        write_str(&mut out, "type");
        write_uint(&mut out, 3);
        write_str(&mut out, "data");
        let extra = match self.kind {
            BroadcastKind::Plain => None,
            BroadcastKind::WithAck(id) => Some(("requestId", id.as_str())),
            BroadcastKind::Recoverable(offset) => Some(("offset", offset.as_str())),
        };
        write_map_len(&mut out, 2 + usize::from(extra.is_some()));
        write_str(&mut out, "packet");
        write_packet(&mut out, self.packet);
        write_str(&mut out, "opts");
        write_opts(&mut out, self.opts, None);
        if let Some((key, text)) = extra {
            write_str(&mut out, key);
            write_str(&mut out, text);
        }
        Bytes::from(out)
    }
}

/// Writes `packet` as [`packet_to_value`](super::packet_to_value) lays it
/// out: `{type, data, nsp, id?}` for an EVENT, `{type, nsp}` otherwise.
pub fn write_packet(out: &mut Vec<u8>, packet: &Packet) {
    let args = match &packet.kind {
        PacketKind::Event { args, .. } => args.as_slice(),
        _ => &[],
    };
    write_packet_with_args(out, packet, args);
}

/// Writes `packet` as [`write_packet`] does, an EVENT carrying `args`
/// instead of its own arguments (Node's format leaves a recoverable
/// broadcast's offset out).
pub fn write_packet_with_args(out: &mut Vec<u8>, packet: &Packet, args: &[Value]) {
    let PacketKind::Event { name, ack, .. } = &packet.kind else {
        // Only events are broadcast; anything else is carried as its type.
        let code = match &packet.kind {
            PacketKind::Connect(_) => 0,
            PacketKind::Disconnect => 1,
            PacketKind::Ack { .. } => 3,
            _ => 4,
        };
        write_map_len(out, 2);
        write_str(out, "type");
        write_uint(out, code);
        write_str(out, "nsp");
        write_str(out, &packet.ns);
        return;
    };
    write_map_len(out, 3 + usize::from(ack.is_some()));
    write_str(out, "type");
    write_uint(out, 2);
    write_str(out, "data");
    write_array_len(out, args.len() + 1);
    write_str(out, name);
    for arg in args {
        write_value(out, arg);
    }
    write_str(out, "nsp");
    write_str(out, &packet.ns);
    if let Some(id) = ack {
        write_str(out, "id");
        write_uint(out, *id);
    }
}

/// Writes `opts` as serde lays them out, `{rooms, except, flags: {local,
/// volatile, compress?, timeout?}}` (the timeout in milliseconds), with
/// `extra` as one more text entry at the end (Node's format carries a
/// recoverable broadcast's offset there).
pub fn write_opts(out: &mut Vec<u8>, opts: &BroadcastOptions, extra: Option<(&str, &str)>) {
    write_map_len(out, 3 + usize::from(extra.is_some()));
    write_str(out, "rooms");
    write_rooms(out, &opts.rooms);
    write_str(out, "except");
    write_rooms(out, &opts.except);
    let flags = &opts.flags;
    write_str(out, "flags");
    let entries = 2 + usize::from(flags.compress.is_some()) + usize::from(flags.timeout.is_some());
    write_map_len(out, entries);
    write_str(out, "local");
    write_value(out, &Value::Bool(flags.local));
    write_str(out, "volatile");
    write_value(out, &Value::Bool(flags.volatile));
    if let Some(compress) = flags.compress {
        write_str(out, "compress");
        write_value(out, &Value::Bool(compress));
    }
    if let Some(timeout) = flags.timeout {
        write_str(out, "timeout");
        write_uint(out, timeout.as_millis() as u64);
    }
    if let Some((key, text)) = extra {
        write_str(out, key);
        write_str(out, text);
    }
}

/// An array of room names.
fn write_rooms(out: &mut Vec<u8>, rooms: &[switchyard_core::Room]) {
    write_array_len(out, rooms.len());
    for room in rooms {
        write_str(out, room);
    }
}
