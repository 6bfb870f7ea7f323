//! Writing the Node adapter's broadcasts straight from a borrowed
//! broadcast: the channel and bytes [`super::encode`] gives its owned copy
//! (`[uid, packet, opts]`, or the MessagePack request of an acknowledged
//! one), without copying the packet or building a `Value` tree.

use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_cluster::message::{
    BroadcastKind, BroadcastRef, write_opts, write_packet, write_packet_with_args,
};
use switchyard_cluster::{Channel, Destination};
use switchyard_core::protocol::PacketKind;
use switchyard_core::value::msgpack::{write_array_len, write_map_len, write_str, write_uint};

/// The channel and bytes of `broadcast` in Node's format; an acknowledged
/// one is a request of type `ack_request_type` (Node's `BROADCAST`).
pub(super) fn encode_broadcast(
    broadcast: &BroadcastRef<'_>,
    to: Destination<'_>,
    ack_request_type: u64,
) -> (Channel, Bytes) {
    // A chat-sized broadcast fits without growing.
    let mut out = Vec::with_capacity(512);
    let ns = broadcast.nsp.clone();
    let channel = match to {
        Destination::Room(room) => Channel::Room {
            ns,
            room: room.clone(),
        },
        _ => Channel::Namespace(ns),
    };
    match broadcast.kind {
        BroadcastKind::Plain => {
            write_array_len(&mut out, 3);
            write_str(&mut out, broadcast.uid);
            write_packet(&mut out, broadcast.packet);
            write_opts(&mut out, broadcast.opts, None);
        }
        BroadcastKind::Recoverable(offset) => recoverable(&mut out, broadcast, offset),
        BroadcastKind::WithAck(request_id) => {
            // A request: MessagePack, on the request channel.
            write_map_len(&mut out, 5);
            write_str(&mut out, "uid");
            write_str(&mut out, broadcast.uid);
            write_str(&mut out, "requestId");
            write_str(&mut out, request_id);
            write_str(&mut out, "type");
            write_uint(&mut out, ack_request_type);
            write_str(&mut out, "packet");
            write_packet(&mut out, broadcast.packet);
            write_str(&mut out, "opts");
            write_opts(&mut out, broadcast.opts, None);
            let ns = broadcast.nsp.clone();
            return (Channel::Requests(ns), Bytes::from(out));
        }
    }
    (channel, Bytes::from(out))
}

/// Node's servers deliver what they get: the offset leaves the packet's
/// arguments and rides in `opts`, for Switchyard nodes to put back.
fn recoverable(out: &mut Vec<u8>, broadcast: &BroadcastRef<'_>, offset: &SmolStr) {
    write_array_len(out, 3);
    write_str(out, broadcast.uid);
    match &broadcast.packet.kind {
        PacketKind::Event { args, .. } => {
            let args = match args.split_last() {
                Some((last, rest)) if last.as_str() == Some(offset.as_str()) => rest,
                _ => args.as_slice(),
            };
            write_packet_with_args(out, broadcast.packet, args);
        }
        _ => write_packet(out, broadcast.packet),
    }
    write_opts(out, broadcast.opts, Some(("offset", offset)));
}
