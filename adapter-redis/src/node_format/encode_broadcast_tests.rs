//! Broadcasts written from borrowed data go where, and read, byte for
//! byte, as their owned copies encoded through `Value` trees (the oracle).
#![allow(clippy::unwrap_used)]

use super::*;
use std::time::Duration;
use switchyard_cluster::message::{BroadcastKind, BroadcastRef};
use switchyard_core::protocol::{Packet, PacketKind};
use switchyard_core::{BroadcastFlags, BroadcastOptions, Room, Value, object};

/// Events of every shape (text, unicode, nested objects, binary
/// attachments, ack ids, a trailing offset) and a packet never broadcast.
pub(super) fn packets() -> Vec<Packet> {
    let nested = object! {
        "user" => object! { "name" => "Zoë 🚀", "n" => -40_000 },
        "list" => Value::Array((0..20).map(Value::from).collect()),
        "f" => 1.5,
    };
    let binary = object! {
        "file" => Bytes::from_static(&[0, 1, 255]),
        "big" => Bytes::from(vec![7u8; 70_000]),
    };
    let mut packets = Vec::new();
    for args in [
        vec![],
        vec![Value::from("héllo 日本")],
        vec![nested, Value::from("x".repeat(300))],
        vec![binary, Value::from("1-0")],
        vec![Value::from(1), Value::from("1-0")],
    ] {
        for ack in [None, Some(12)] {
            let mut packet = Packet::event("/chat", "évènement", args.clone());
            if let PacketKind::Event { ack: a, .. } = &mut packet.kind {
                *a = ack;
            }
            packets.push(packet);
        }
    }
    packets.push(Packet {
        ns: "/chat".into(),
        kind: PacketKind::Disconnect,
    });
    packets
}

/// Targeting: every flag, with and without rooms and exceptions.
pub(super) fn options() -> Vec<BroadcastOptions> {
    let many: Vec<Room> = (0..20).map(|i| Room::from(format!("r{i}"))).collect();
    let mut all = Vec::new();
    for (rooms, except) in [(vec![], vec![]), (vec!["a".into()], many)] {
        for (local, volatile) in [(false, false), (true, false), (false, true)] {
            for compress in [None, Some(true), Some(false)] {
                for timeout in [None, Some(250), Some(5_000_000_000)] {
                    all.push(BroadcastOptions {
                        rooms: rooms.clone(),
                        except: except.clone(),
                        flags: BroadcastFlags {
                            local,
                            volatile,
                            compress,
                            timeout: timeout.map(Duration::from_millis),
                        },
                    });
                }
            }
        }
    }
    all
}

#[test]
fn borrowed_broadcasts_encode_as_their_owned_copies() {
    let format = NodeFormat::new("socket.io", false);
    let (uid, nsp): (NodeId, SmolStr) = ("0123456789abcdef".into(), "/chat".into());
    let (request_id, offset): (SmolStr, SmolStr) = ("r-1".into(), "1-0".into());
    let room: Room = "a".into();
    let mut compared = 0;
    for packet in &packets() {
        for opts in &options() {
            for kind in [
                BroadcastKind::Plain,
                BroadcastKind::WithAck(&request_id),
                BroadcastKind::Recoverable(&offset),
            ] {
                for to in [Destination::Everyone, Destination::Room(&room)] {
                    let broadcast = BroadcastRef {
                        uid: &uid,
                        nsp: &nsp,
                        packet,
                        opts,
                        kind,
                    };
                    let oracle = format.encode(&broadcast.to_message(), to).unwrap();
                    let borrowed = format.encode_broadcast(&broadcast, to).unwrap();
                    assert_eq!(borrowed, oracle, "{packet:?} {opts:?} {kind:?} {to:?}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}
