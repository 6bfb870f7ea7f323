//! The fast path of Node's broadcasts reads what the `Value` path
//! (`decode_broadcast_tree`, the oracle) reads: the same message for every
//! broadcast Switchyard writes and for Node's own bytes, and, for anything
//! else (other shapes, truncations, flipped bytes), either the oracle's
//! message or nothing, the oracle then deciding. Messages are compared by
//! `Debug`, which tells `1` from `1.0`.
#![allow(clippy::unwrap_used)]

use super::decode::{broadcast_fast, decode_broadcast, decode_broadcast_tree};
use super::encode_broadcast_tests::{options, packets};
use super::tests::{NODE_BROADCAST, hex};
use super::*;
use switchyard_cluster::message::{BroadcastKind, BroadcastRef};
use switchyard_core::value::to_msgpack;
use switchyard_core::{Value, object};

/// The fast path read `payload` as the oracle does, or left it to it;
/// `decode_broadcast` gives the oracle's answer either way. Whether the
/// fast path read it.
fn agrees(payload: &Bytes) -> bool {
    let oracle = decode_broadcast_tree(payload);
    let decoded = decode_broadcast(payload);
    assert_eq!(
        format!("{decoded:?}"),
        format!("{oracle:?}"),
        "{payload:02x?}"
    );
    match broadcast_fast(payload) {
        Some(fast) => {
            let oracle = oracle.unwrap_or_else(|e| panic!("{e}: {fast:?} {payload:02x?}"));
            assert_eq!(format!("{fast:?}"), format!("{oracle:?}"), "{payload:02x?}");
            true
        }
        None => false,
    }
}

/// Every generated broadcast, plain and recoverable, as Switchyard writes
/// it in Node's format (acknowledged ones are requests, read elsewhere).
fn encoded_broadcasts() -> Vec<Bytes> {
    let (uid, nsp): (NodeId, SmolStr) = ("0123456789abcdef".into(), "/chat".into());
    let offset: SmolStr = "1-0".into();
    let mut all = Vec::new();
    for packet in &packets() {
        for opts in &options() {
            for kind in [BroadcastKind::Plain, BroadcastKind::Recoverable(&offset)] {
                let broadcast = BroadcastRef {
                    uid: &uid,
                    nsp: &nsp,
                    packet,
                    opts,
                    kind,
                };
                all.push(
                    encode_broadcast::encode_broadcast(&broadcast, Destination::Everyone, 7).1,
                );
            }
        }
    }
    all
}

#[test]
fn every_generated_broadcast_takes_the_fast_path_to_the_same_message() {
    let (mut fast, mut events) = (0, 0);
    for payload in encoded_broadcasts() {
        let is_event = decode_broadcast_tree(&payload).is_ok();
        events += usize::from(is_event);
        assert_eq!(agrees(&payload), is_event, "{payload:02x?}");
        fast += usize::from(is_event);
    }
    assert!(fast > 1000 && fast == events, "{fast} of {events}");
}

#[test]
fn node_s_own_bytes_take_the_fast_path() {
    // A Node server's broadcast, and an emitter's with a date
    // (fixtures of `tests.rs`).
    let emitter = "93a7656d697474657283a47479706502a46461746192a174d7000000000000000000a36e7370a12f83a5\
726f6f6d7390a665786365707490a5666c61677380";
    for payload in [hex(NODE_BROADCAST), hex(emitter)] {
        assert!(agrees(&payload));
    }
}

#[test]
fn other_shapes_are_read_as_the_value_path_reads_them() {
    let packet = || object! { "type" => 2, "data" => Value::Array(vec!["m".into(), 1.5.into()]), "nsp" => "/n" };
    let opts = || object! { "rooms" => Value::Array(vec!["r".into()]), "flags" => object! { "timeout" => 10 } };
    let with = |mut v: Value, key: &str, value: Value| {
        if let Value::Object(map) = &mut v {
            map.insert(key.to_owned(), value);
        }
        v
    };
    let message = |packet: Value, opts: Value| Value::Array(vec!["u".into(), packet, opts]);
    let no_nsp = object! { "type" => 2, "data" => Value::Array(vec!["m".into()]) };
    for (what, value, fast) in [
        ("plain", message(packet(), opts()), true),
        ("no namespace", message(no_nsp, opts()), true),
        (
            "nil offset",
            message(packet(), with(opts(), "offset", Value::Null)),
            true,
        ),
        (
            "an offset",
            message(packet(), with(opts(), "offset", "2-0".into())),
            true,
        ),
        (
            "unknown keys",
            message(with(packet(), "x", 1.into()), with(opts(), "y", opts())),
            true,
        ),
        (
            "number offset",
            message(packet(), with(opts(), "offset", 2.into())),
            false,
        ),
        (
            "number namespace",
            message(with(packet(), "nsp", 2.into()), opts()),
            false,
        ),
        (
            "opts as an array",
            message(packet(), Value::Array(vec![])),
            false,
        ),
        (
            "four parts",
            Value::Array(vec!["u".into(), packet(), opts(), 1.into()]),
            false,
        ),
        (
            "not an event",
            message(with(packet(), "type", 0.into()), opts()),
            false,
        ),
        (
            "a bool room",
            message(
                packet(),
                with(opts(), "except", Value::Array(vec![true.into()])),
            ),
            false,
        ),
    ] {
        let payload = Bytes::from(to_msgpack(&value));
        assert_eq!(agrees(&payload), fast, "{what}");
    }
}

#[test]
fn every_truncation_is_refused_by_both_paths() {
    let mut payloads: Vec<Bytes> = encoded_broadcasts()
        .into_iter()
        .step_by(53)
        .take(8)
        .collect();
    payloads.push(hex(NODE_BROADCAST));
    for payload in payloads {
        assert!(agrees(&payload));
        for len in 0..payload.len().min(3_000) {
            let cut = payload.slice(..len);
            assert!(!agrees(&cut), "a prefix of {len} bytes was read");
            assert!(decode_broadcast_tree(&cut).is_err());
        }
    }
}

#[test]
fn flipped_bytes_never_panic_and_agree() {
    let mut seed = 0x853c_49e6_748f_ea9b_u64;
    let mut next = move || {
        // xorshift64: deterministic, so a failure replays.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut payloads: Vec<Bytes> = encoded_broadcasts()
        .into_iter()
        .filter(|b| b.len() < 4_000)
        .step_by(7)
        .collect();
    payloads.push(hex(NODE_BROADCAST));
    let (mut fast, mut total) = (0, 0);
    for payload in payloads {
        for _ in 0..60 {
            let mut flipped = payload.to_vec();
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
