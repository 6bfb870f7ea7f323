//! The borrowed broadcast encoder writes, byte for byte, what the `Value`
//! tree encoder ([`ClusterMessage::encode`], the oracle) writes.
use super::*;
use bytes::Bytes;
use std::time::Duration;
use switchyard_core::protocol::PacketKind;
use switchyard_core::value::Map;
use switchyard_core::{BroadcastFlags, object};

/// Event arguments of every shape: text, unicode, nested objects, binary
/// attachments, numbers of every width, and lengths past each fix form.
fn argument_sets() -> Vec<Vec<Value>> {
    let nested = object! {
        "user" => object! { "name" => "Zoë 🚀", "tags" => Value::Array(vec!["a".into(), "ß".into()]) },
        "scores" => Value::Array((0..20).map(Value::from).collect()),
        "none" => Value::Null,
        "yes" => true,
    };
    let binary = object! {
        "file" => Bytes::from_static(&[0, 1, 2, 255]),
        "chunks" => Value::Array(vec![
            Value::Binary(Bytes::from(vec![7u8; 300])),
            Value::Binary(Bytes::from(vec![9u8; 70_000])),
        ]),
    };
    let numbers = vec![
        Value::from(0),
        Value::from(127),
        Value::from(128),
        Value::from(65_536),
        Value::from(u64::MAX),
        Value::from(-1),
        Value::from(-33),
        Value::from(-40_000),
        Value::from(i64::MIN),
        Value::from(1.5),
        Value::from(-0.25),
        Value::from(3.0),
    ];
    let wide: Map = (0..40).map(|i| (format!("k{i}"), Value::from(i))).collect();
    vec![
        vec![],
        vec![Value::from("hello")],
        vec![Value::from("日本語のテキスト, ünïcödé, emoji 🎉")],
        vec![nested.clone(), Value::from("x".repeat(40))],
        vec![binary, nested],
        numbers,
        vec![
            Value::from("y".repeat(300)),
            Value::from("z".repeat(70_000)),
        ],
        vec![Value::Object(wide)],
        (0..20).map(|i| Value::from(format!("arg{i}"))).collect(),
    ]
}

/// Packets: events with and without an ack id and with names of every
/// length, and the kinds that are never broadcast but still carried.
pub(super) fn packets() -> Vec<Packet> {
    let mut packets = Vec::new();
    for (i, args) in argument_sets().into_iter().enumerate() {
        for (ns, name, ack) in [
            ("/", "msg", None),
            ("/chat", "évènement", Some(7)),
            ("/a-namespace-name-longer-than-31-bytes", "n", Some(300)),
            ("/", &*"e".repeat(40), Some(u64::from(u32::MAX) + 1)),
        ] {
            let mut packet = Packet::event(ns, name, args.clone());
            if let PacketKind::Event { ack: a, .. } = &mut packet.kind {
                *a = ack.map(|id| id + i as u64);
            }
            packets.push(packet);
        }
    }
    for kind in [
        PacketKind::Connect(None),
        PacketKind::Disconnect,
        PacketKind::Ack {
            id: 3,
            args: vec![Value::from(1)],
        },
        PacketKind::ConnectError(Value::from("no")),
    ] {
        packets.push(Packet {
            ns: "/chat".into(),
            kind,
        });
    }
    packets
}

/// Targeting with every flag, and without or with rooms and exceptions
/// (short, long, many).
pub(super) fn options() -> Vec<BroadcastOptions> {
    let many: Vec<Room> = (0..20).map(|i| Room::from(format!("room-{i}"))).collect();
    let mut all = Vec::new();
    for (rooms, except) in [
        (vec![], vec![]),
        (vec!["r1".into()], vec![]),
        (many.clone(), vec!["ünï".into(), "x".repeat(40).into()]),
        (vec!["a".into(), "b".into()], many),
    ] {
        for local in [false, true] {
            for volatile in [false, true] {
                for compress in [None, Some(false), Some(true)] {
                    for timeout in [None, Some(0), Some(250), Some(70_000), Some(5_000_000_000)] {
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
    }
    all
}

#[test]
fn borrowed_broadcasts_encode_as_the_value_tree_does() {
    let (uid, nsp): (NodeId, SmolStr) = ("0123456789abcdef".into(), "/chat".into());
    let (request_id, offset): (RequestId, SmolStr) = ("r-42".into(), "1-0".into());
    let kinds = [
        BroadcastKind::Plain,
        BroadcastKind::WithAck(&request_id),
        BroadcastKind::Recoverable(&offset),
    ];
    let (packets, options) = (packets(), options());
    let mut compared = 0;
    for (i, packet) in packets.iter().enumerate() {
        // Every packet with a spread of options, every option with some packet.
        for opts in options.iter().skip(i % 7).step_by(7) {
            for kind in kinds {
                let broadcast = BroadcastRef {
                    uid: &uid,
                    nsp: &nsp,
                    packet,
                    opts,
                    kind,
                };
                let oracle = broadcast.to_message().encode();
                assert_eq!(broadcast.encode(), oracle, "{packet:?} {opts:?} {kind:?}");
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}

#[test]
fn borrowed_broadcasts_decode_to_what_was_borrowed() {
    let (uid, nsp): (NodeId, SmolStr) = ("node".into(), "/".into());
    let packet = Packet::event("/", "msg", vec![object! { "a" => 1 }, Value::from("1-0")]);
    let opts = BroadcastOptions::default();
    let offset: SmolStr = "1-0".into();
    let broadcast = BroadcastRef {
        uid: &uid,
        nsp: &nsp,
        packet: &packet,
        opts: &opts,
        kind: BroadcastKind::Recoverable(&offset),
    };
    let back = ClusterMessage::decode(&broadcast.encode()).unwrap();
    assert_eq!(back, broadcast.to_message());
}
