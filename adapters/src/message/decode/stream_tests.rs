//! The broadcast fast path reads what the `Value` path (`decode_tree`, the
//! oracle) reads: the same message for every broadcast either encoder
//! writes, and, for anything else (other layouts, truncations, flipped
//! bytes), either the oracle's own message or nothing, the oracle then
//! deciding. Messages are compared by `Debug`, which tells `1` from `1.0`.
#![allow(clippy::unwrap_used)]

use super::decode_tree;
use super::stream::broadcast;
use crate::message::broadcast_tests::{options, packets};
use crate::message::{BroadcastKind, BroadcastRef, ClusterMessage, RequestId};
use bytes::Bytes;
use smol_str::SmolStr;
use switchyard_core::value::msgpack::{write_map_len, write_str, write_uint, write_value};
use switchyard_core::value::to_msgpack;
use switchyard_core::{Value, object};

/// The fast path read `bytes` as the oracle does, or left them to it;
/// `decode` gives the oracle's answer either way. Whether the fast path
/// read them.
fn agrees(bytes: &Bytes) -> bool {
    let oracle = decode_tree(bytes);
    let decoded = ClusterMessage::decode(bytes);
    assert_eq!(
        format!("{decoded:?}"),
        format!("{oracle:?}"),
        "{bytes:02x?}"
    );
    match broadcast(bytes) {
        Some(fast) => {
            let oracle = oracle.unwrap_or_else(|e| panic!("{e}: {fast:?} {bytes:02x?}"));
            assert_eq!(format!("{fast:?}"), format!("{oracle:?}"), "{bytes:02x?}");
            true
        }
        None => false,
    }
}

/// Every generated broadcast as the borrowed encoder writes it: plain,
/// acknowledged and recoverable.
fn encoded_broadcasts() -> Vec<Bytes> {
    let (uid, nsp): (crate::NodeId, SmolStr) = ("0123456789abcdef".into(), "/chat".into());
    let (request_id, offset): (RequestId, SmolStr) = ("r-42".into(), "1-0".into());
    let (packets, options) = (packets(), options());
    let mut all = Vec::new();
    for (i, packet) in packets.iter().enumerate() {
        for opts in options.iter().skip(i % 7).step_by(7) {
            for kind in [
                BroadcastKind::Plain,
                BroadcastKind::WithAck(&request_id),
                BroadcastKind::Recoverable(&offset),
            ] {
                let broadcast = BroadcastRef {
                    uid: &uid,
                    nsp: &nsp,
                    packet,
                    opts,
                    kind,
                };
                all.push(broadcast.encode());
            }
        }
    }
    all
}

#[test]
fn every_generated_broadcast_takes_the_fast_path_to_the_same_message() {
    let (mut fast, mut events) = (0, 0);
    for bytes in encoded_broadcasts() {
        let is_event = decode_tree(&bytes).is_ok();
        events += usize::from(is_event);
        // Every event is read by the fast path; the rest are refused by both.
        assert_eq!(agrees(&bytes), is_event, "{bytes:02x?}");
        fast += usize::from(is_event);
    }
    assert!(fast > 1000 && fast == events, "{fast} of {events}");
}

fn packet() -> Value {
    object! { "type" => 2, "data" => Value::Array(vec!["msg".into(), 1.into()]), "nsp" => "/" }
}

fn opts() -> Value {
    let flags =
        object! { "local" => false, "volatile" => false, "compress" => true, "binary" => false };
    object! { "rooms" => Value::Array(vec!["r1".into()]), "except" => Value::Array(vec![]), "flags" => flags }
}

fn data() -> Value {
    object! { "packet" => packet(), "opts" => opts() }
}

fn message(data: Value) -> Value {
    object! { "uid" => "n1", "nsp" => "/", "type" => 3, "data" => data }
}

/// `v` with `key` set to `value`.
fn with(mut v: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.insert(key.to_owned(), value);
    }
    v
}

/// A message whose `data` (`in_packet`, `in_opts`: its packet, its
/// options) has `key` set to `value`.
fn in_data(key: &str, value: Value) -> Value {
    message(with(data(), key, value))
}
fn in_packet(key: &str, value: Value) -> Value {
    in_data("packet", with(packet(), key, value))
}
fn in_opts(key: &str, value: Value) -> Value {
    in_data("opts", with(opts(), key, value))
}

/// A message with these flags, and an unknown one.
fn timeout(t: Value) -> Value {
    let flags = object! { "timeout" => t, "extra" => object! { "x" => Value::Array(vec![]) } };
    in_opts("flags", flags)
}

/// Broadcasts laid out otherwise than our encoder does, that the fast path
/// reads: Node's key order, unknown keys, numbers of other widths, `nil`s.
fn fast_layouts() -> Vec<(&'static str, Value)> {
    let node_order = object! { "type" => 3, "data" => data(), "uid" => "n1", "nsp" => "/" };
    let numbered = Value::Array(vec![7.into(), Value::Null]);
    vec![
        ("our layout", message(data())),
        ("node's key order", node_order),
        ("unknown keys", with(in_data("x", opts()), "y", 1.into())),
        ("number event name", in_packet("data", numbered)),
        ("float timeout", timeout(2.5.into())),
        ("negative timeout", timeout((-3).into())),
        ("huge timeout", timeout(u64::MAX.into())),
        ("nil timeout", timeout(Value::Null)),
        ("string id", in_packet("id", "7".into())),
        ("negative id", in_packet("id", (-7).into())),
        ("nil request id", in_data("requestId", Value::Null)),
        ("empty opts", in_data("opts", object! {})),
        ("binary event", in_packet("type", 5.into())),
    ]
}

/// Broadcasts only the `Value` path reads or refuses.
fn tree_layouts() -> Vec<(&'static str, Value)> {
    let both = with(data(), "requestId", "r".into());
    vec![
        ("other type", with(message(data()), "type", 2.into())),
        ("no opts", message(object! { "packet" => packet() })),
        ("opts as an array", in_data("opts", Value::Array(vec![]))),
        ("id and offset", message(with(both, "offset", "1-0".into()))),
        ("empty event", in_packet("data", Value::Array(vec![]))),
        ("ack packet", in_packet("type", 3.into())),
        (
            "null room",
            in_opts("rooms", Value::Array(vec![Value::Null])),
        ),
        ("string timeout", timeout("1".into())),
        ("number uid", with(message(data()), "uid", 1.into())),
        (
            "no data",
            object! { "uid" => "n1", "nsp" => "/", "type" => 3 },
        ),
        ("not a map", Value::Array(vec![message(data())])),
    ]
}

#[test]
fn other_layouts_are_read_as_the_value_path_reads_them() {
    for (fast, layouts) in [(true, fast_layouts()), (false, tree_layouts())] {
        for (what, value) in layouts {
            let bytes = Bytes::from(to_msgpack(&value));
            assert_eq!(agrees(&bytes), fast, "{what}");
        }
    }
    // `type: 3.0` (float64), which the `Value` path reads as 3.
    let ours = to_msgpack(&message(data()));
    let at = ours.windows(5).position(|w| w == b"\xa4type").unwrap() + 5;
    let mut float = ours[..at].to_vec();
    float.extend([0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0]);
    float.extend(&ours[at + 1..]);
    let float = Bytes::from(float);
    assert!(!agrees(&float));
    assert!(decode_tree(&float).is_ok());
}

/// A broadcast written by hand: `uid` twice, `nsp` (then `undefined` when
/// `nsp_twice`), the packet's `id` then `undefined`, `rooms` twice.
fn with_duplicates(nsp_twice: bool) -> Bytes {
    const UNDEFINED: [u8; 3] = [0xd4, 0, 0];
    let out = &mut Vec::new();
    write_map_len(out, 5 + usize::from(nsp_twice));
    for (key, text) in [("uid", "a"), ("uid", "b"), ("nsp", "/")] {
        write_str(out, key);
        write_str(out, text);
    }
    if nsp_twice {
        write_str(out, "nsp");
        out.extend(UNDEFINED);
    }
    write_str(out, "type");
    write_uint(out, 3);
    write_str(out, "data");
    write_map_len(out, 2);
    write_str(out, "packet");
    write_map_len(out, 4);
    write_str(out, "type");
    write_uint(out, 2);
    write_str(out, "data");
    write_value(out, &Value::Array(vec!["e".into(), Value::Null]));
    write_str(out, "id");
    write_uint(out, 1);
    write_str(out, "id");
    out.extend(UNDEFINED);
    write_str(out, "opts");
    write_map_len(out, 2);
    for room in ["x", "y"] {
        write_str(out, "rooms");
        write_value(out, &Value::Array(vec![room.into()]));
    }
    Bytes::from(std::mem::take(out))
}

#[test]
fn duplicate_keys_and_undefined_members_agree() {
    // The last defined value wins, in both paths.
    let bytes = with_duplicates(false);
    assert!(agrees(&bytes));
    let message = decode_tree(&bytes).unwrap();
    assert_eq!(message.uid, "b");
    let crate::message::Body::Broadcast { packet, opts, .. } = message.body else {
        panic!("{message:?}");
    };
    assert_eq!(
        format!("{:?}", packet.kind),
        r#"Event { name: "e", args: [Null], ack: Some(1) }"#
    );
    assert_eq!(opts.rooms, ["y"]);
    // An `undefined` namespace is left to the `Value` path.
    assert!(!agrees(&with_duplicates(true)));
    assert!(decode_tree(&with_duplicates(true)).is_ok());
}

#[test]
fn every_truncation_is_refused_by_both_paths() {
    for bytes in encoded_broadcasts().iter().step_by(97).take(8) {
        assert!(agrees(bytes));
        for len in 0..bytes.len().min(3_000) {
            let cut = bytes.slice(..len);
            assert!(!agrees(&cut), "a prefix of {len} bytes was read");
            assert!(decode_tree(&cut).is_err());
        }
    }
}

#[test]
fn flipped_bytes_never_panic_and_agree() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        // xorshift64: deterministic, so a failure replays.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut fast, mut total) = (0, 0);
    for bytes in encoded_broadcasts()
        .iter()
        .filter(|b| b.len() < 4_000)
        .step_by(11)
    {
        for _ in 0..60 {
            let mut flipped = bytes.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % flipped.len() as u64) as usize;
                flipped[at] ^= 1 << (next() % 8);
            }
            fast += usize::from(agrees(&Bytes::from(flipped)));
            total += 1;
        }
    }
    // Flips inside names and arguments still decode: both paths compared.
    assert!(fast > total / 10 && total > 1000, "{fast} of {total}");
}
