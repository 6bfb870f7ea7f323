//! Tests of the MessagePack codec against notepack's bytes and hostile input.

use super::decode::MAX_DEPTH;
use super::*;
use crate::object;
use crate::value::Value;
use bytes::Bytes;

fn round_trip(v: &Value) -> Value {
    let mut out = Vec::new();
    write_value(&mut out, v);
    decode(&Bytes::from(out), 1_000_000).unwrap().unwrap()
}

#[test]
fn round_trips_every_kind() {
    let v = object! {
        "n" => Value::Null, "t" => true, "f" => false,
        "small" => 5, "neg" => -5, "negbig" => -70000, "big" => u64::MAX, "min" => i64::MIN,
        "float" => 1.5, "s" => "x".repeat(40), "long" => "y".repeat(70000),
        "bin" => Bytes::from(vec![7u8; 300]),
        "arr" => Value::Array((0..20).map(Value::from).collect()),
    };
    assert_eq!(round_trip(&v), v);
}

#[test]
fn matches_notepack_bytes() {
    // notepack.encode({type: 2, data: ["a", 1.5, -1, 300], nsp: "/"})
    let v = object! {
        "type" => 2,
        "data" => Value::Array(vec!["a".into(), 1.5.into(), (-1).into(), 300.into()]),
        "nsp" => "/",
    };
    let mut out = Vec::new();
    write_value(&mut out, &v);
    let expected: &[u8] = &[
        0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a', 0x94, 0xa1, b'a',
        0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xff, 0xcd, 0x01, 0x2c, 0xa3, b'n', b's', b'p', 0xa1,
        b'/',
    ];
    assert_eq!(out, expected);
}

#[test]
fn reads_notepack_extensions() {
    // {data: undefined} drops the key; ArrayBuffer (ext 8, type 0) is binary.
    let undefined_member = Bytes::from_static(&[0x81, 0xa4, b'd', b'a', b't', b'a', 0xd4, 0, 0]);
    assert_eq!(decode(&undefined_member, 100).unwrap(), Some(object! {}));
    let array_buffer = Bytes::from_static(&[0xc7, 2, 0, 9, 8]);
    assert_eq!(
        decode(&array_buffer, 100).unwrap(),
        Some(Value::Binary(Bytes::from_static(&[9, 8])))
    );
    let date = Bytes::from_static(&[0xd7, 0, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00]);
    assert_eq!(
        decode(&date, 100).unwrap(),
        Some(Value::from("2023-11-14T22:13:20.000Z"))
    );
    // notepack 3 (the Redis adapter's) writes the timestamp extension;
    // bytes from Node.js for new Date(1795600000123), 0 and -1000.
    let ts64 = Bytes::from_static(&[0xd7, 0xff, 0x1d, 0x53, 0x53, 0x00, 0x6b, 0x06, 0xae, 0x80]);
    assert_eq!(
        decode(&ts64, 100).unwrap(),
        Some(Value::from("2026-11-25T09:46:40.123Z"))
    );
    let ts32 = Bytes::from_static(&[0xd6, 0xff, 0, 0, 0, 0]);
    assert_eq!(
        decode(&ts32, 100).unwrap(),
        Some(Value::from("1970-01-01T00:00:00.000Z"))
    );
    let ts96 = Bytes::from_static(&[
        0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    assert_eq!(
        decode(&ts96, 100).unwrap(),
        Some(Value::from("1969-12-31T23:59:59.000Z"))
    );
}

#[test]
fn refuses_hostile_input() {
    let cases: &[&[u8]] = &[
        &[0xdd, 0xff, 0xff, 0xff, 0xff],       // array claiming 4G elements
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], // string longer than input
        &[0xc1],                               // never-used marker
        &[0xa2, 0xff, 0xfe],                   // invalid UTF-8
        &[0x81, 0x90, 0xc0],                   // array as a key
        &[0xc0, 0xc0],                         // trailing data
        &[],                                   // empty
    ];
    for case in cases {
        assert!(
            decode(&Bytes::copy_from_slice(case), 1000).is_err(),
            "{case:x?}"
        );
    }
    let deep = Bytes::from(vec![0x91u8; MAX_DEPTH + 2]);
    assert_eq!(decode(&deep, 1000), Err(DecodeError::TooDeep));
}

#[test]
fn nested_lengths_cannot_claim_more_than_the_input() {
    // Each level claims almost the whole input: the first level may, the
    // second cannot claim what the first already announced.
    let mut doc = vec![0xdd, 0, 0, 0x03, 0xe8]; // array of 1000
    doc.extend_from_slice(&[0xdd, 0, 0, 0x03, 0xe0]); // array of 992
    doc.resize(1010, 0);
    assert_eq!(
        decode(&Bytes::from(doc), 10_000),
        Err(DecodeError::Truncated)
    );
    // The same shape with honest lengths decodes.
    let mut honest = vec![0x92, 0x93, 1, 2, 3, 4];
    assert!(decode(&Bytes::from(honest.clone()), 10).is_ok());
    honest[1] = 0x95;
    assert_eq!(
        decode(&Bytes::from(honest), 10),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn stops_at_the_element_budget() {
    let mut doc = vec![0xdc, 0x27, 0x10]; // array of 10,000 zeros
    doc.resize(3 + 10_000, 0);
    let doc = Bytes::from(doc);
    assert!(decode(&doc, 10_001).is_ok());
    assert_eq!(
        decode(&doc, 10_000),
        Err(DecodeError::TooManyElements(10_000))
    );
}
