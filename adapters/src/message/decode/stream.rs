//! The fast path of [`ClusterMessage::decode`] for broadcasts (type 3):
//! `{uid, nsp, type: 3, data: {packet, opts, requestId? | offset?}}` read
//! straight into a [`Packet`] and [`BroadcastOptions`], without a `Value`
//! tree of the whole message. Keys may come in any order (`data` is read
//! as a broadcast's before `type` says it is one). Anything else, or
//! anything unexpected, is `None`: the `Value` path then decodes the
//! message, so what it accepts and rejects is unchanged.

use super::parts::text_or_nil;
use crate::broker::channel::NodeId;
use crate::message::{Body, ClusterMessage, RequestId};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_core::BroadcastOptions;
use switchyard_core::protocol::Packet;
use switchyard_core::value::msgpack::Reader;

/// The message type of a broadcast.
const BROADCAST: u64 = 3;

/// A broadcast's `data`, read.
struct Data {
    packet: Packet,
    opts: BroadcastOptions,
    request_id: Option<RequestId>,
    offset: Option<SmolStr>,
}

/// The broadcast in `bytes`, or `None` when they hold anything else or
/// anything the fast path does not read (the `Value` path decides then).
pub(super) fn broadcast(bytes: &Bytes) -> Option<ClusterMessage> {
    let mut reader = Reader::new(bytes);
    let len = reader.map_len().ok()?;
    let (mut uid, mut nsp, mut is_broadcast, mut data) = (None, None, false, None);
    for _ in 0..len {
        match reader.str().ok()? {
            "uid" => uid = Some(reader.str().ok()?),
            "nsp" => nsp = Some(reader.str().ok()?),
            "type" => {
                // Other types are the `Value` path's: stop reading.
                if reader.uint().ok()? != BROADCAST {
                    return None;
                }
                is_broadcast = true;
            }
            "data" => data = Some(data_of(&mut reader)?),
            _ => reader.skip().ok()?,
        }
    }
    reader.finish().ok()?;
    let (Some(uid), Some(nsp), Some(data), true) = (uid, nsp, data, is_broadcast) else {
        return None;
    };
    let Data {
        mut packet,
        opts,
        request_id,
        offset,
    } = data;
    let (uid, nsp) = (NodeId::new(uid), SmolStr::new(nsp));
    // The packet belongs to the message's namespace, whatever its own says.
    packet.ns = nsp.clone();
    let body = match (offset, request_id) {
        (Some(offset), None) => Body::RecoverableBroadcast {
            packet,
            opts,
            offset,
        },
        (None, request_id) => Body::Broadcast {
            packet,
            opts,
            request_id,
        },
        // Both: invalid, for the `Value` path to report.
        (Some(_), Some(_)) => return None,
    };
    Some(ClusterMessage { uid, nsp, body })
}

/// `{packet, opts, requestId?, offset?}`, `nil` standing for an absent
/// request id or offset.
fn data_of(reader: &mut Reader<'_>) -> Option<Data> {
    let len = reader.map_len().ok()?;
    let (mut packet, mut opts, mut request_id, mut offset) = (None, None, None, None);
    for _ in 0..len {
        match reader.str().ok()? {
            "packet" => packet = Some(ClusterMessage::read_event(reader)?),
            "opts" => opts = Some(ClusterMessage::read_opts(reader, None)?.0),
            "requestId" => request_id = text_or_nil(reader)?,
            "offset" => offset = text_or_nil(reader)?,
            _ => reader.skip().ok()?,
        }
    }
    Some(Data {
        packet: packet?,
        opts: opts?,
        request_id,
        offset,
    })
}
