//! The streaming [`Reader`] agrees with `decode` (the `Value` tree reader,
//! the oracle) on every document, well-formed or hostile: read piece by
//! piece, skipped, truncated, flipped, nested too deep or over budget.

use super::decode::{DecodeError, MAX_DEPTH, decode};
use super::*;
use crate::object;
use crate::value::{Map, Value};
use bytes::Bytes;

/// Documents of every kind: each format of each width, notepack's
/// extensions, number keys, `undefined` in arrays and maps, nesting.
fn documents() -> Vec<Bytes> {
    let nested = object! {
        "user" => object! { "name" => "Zoë 🚀", "tags" => Value::Array(vec!["a".into(), "ß".into()]) },
        "scores" => Value::Array((0..20).map(Value::from).collect()),
        "none" => Value::Null, "yes" => true, "no" => false,
        "bin" => Bytes::from(vec![7u8; 300]), "long" => "y".repeat(70_000),
        "nums" => Value::Array(vec![
            0.into(), 127.into(), 128.into(), 65_536.into(), u64::MAX.into(), (-1).into(),
            (-33).into(), (-40_000).into(), i64::MIN.into(), 1.5.into(), (-0.25).into(),
        ]),
        "wide" => Value::Object((0..40).map(|i| (format!("k{i}"), Value::from(i))).collect::<Map>()),
    };
    let mut docs: Vec<Bytes> = [nested, Value::Array(vec![]), object! {}, Value::from("x")]
        .iter()
        .map(|v| Bytes::from(crate::value::to_msgpack(v)))
        .collect();
    for raw in [
        // {1: "a", -2: [undefined, nil], "u": undefined}
        &[
            0x83, 0x01, 0xa1, b'a', 0xfe, 0x92, 0xd4, 0, 0, 0xc0, 0xa1, b'u', 0xd4, 0, 0,
        ][..],
        // undefined, a date, an ArrayBuffer, an unknown extension, signed
        // formats holding non-negative numbers, a float32
        &[0xd4, 0, 0],
        &[
            0x92, 0xd7, 0, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0xc7, 2, 0, 9, 8,
        ],
        &[0x93, 0xd5, 5, 1, 2, 0xd0, 5, 0xd3, 0, 0, 0, 0, 0, 0, 1, 0],
        &[0x92, 0xca, 0x3f, 0xc0, 0, 0, 0xd1, 0xff, 0xfe],
        // str16, array16, map16 holding few items
        &[0x91, 0xda, 0, 2, b'h', b'i'],
        &[0xdc, 0, 1, 0xdd, 0, 0, 0, 1, 0xde, 0, 1, 0xa1, b'k', 0xc3],
        // a date as a key
        &[
            0x81, 0xd7, 0, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x01,
        ],
    ] {
        docs.push(Bytes::copy_from_slice(raw));
    }
    docs
}

/// Reads a document with the typed reads wherever they apply, as a decoder
/// of known shapes would, rebuilding the `Value` that `decode` makes.
fn walk(r: &mut Reader<'_>) -> Result<Option<Value>, DecodeError> {
    Ok(Some(match r.peek()? {
        Kind::Map => {
            let len = r.map_len()?;
            let mut map = Map::new();
            for _ in 0..len {
                let key = match r.peek()? {
                    Kind::Str => r.str()?.to_owned(),
                    _ => match r.value()? {
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::String(s)) => s,
                        _ => unreachable!("the reader checks keys"),
                    },
                };
                if let Some(value) = walk(r)? {
                    map.insert(key, value);
                }
            }
            Value::Object(map)
        }
        Kind::Array => {
            let len = r.array_len()?;
            let mut items = Vec::new();
            for _ in 0..len {
                items.push(walk(r)?.unwrap_or(Value::Null));
            }
            Value::Array(items)
        }
        Kind::Str => Value::from(r.str()?),
        Kind::Nil => {
            r.nil()?;
            Value::Null
        }
        Kind::Bool => Value::Bool(r.bool()?),
        Kind::Int => match r.uint() {
            Ok(n) => Value::from(n),
            Err(DecodeError::Unexpected(_)) => return r.value(),
            Err(e) => return Err(e),
        },
        _ => return r.value(),
    }))
}

fn walked(bytes: &Bytes, max: usize) -> Result<Option<Value>, DecodeError> {
    let mut r = Reader::with_max_elements(bytes, max);
    let value = walk(&mut r)?;
    r.finish()?;
    Ok(value)
}

fn skipped(bytes: &Bytes, max: usize) -> Result<(), DecodeError> {
    let mut r = Reader::with_max_elements(bytes, max);
    r.skip()?;
    r.finish()
}

fn read_whole(bytes: &Bytes, max: usize) -> Result<Option<Value>, DecodeError> {
    let mut r = Reader::with_max_elements(bytes, max);
    let value = r.value()?;
    r.finish()?;
    Ok(value)
}

/// The three ways of reading `bytes` agree with `decode`: the same value
/// (compared by `Debug`, which tells `1` from `1.0`), or an error. Whole
/// values and skips fail with the same error; piece by piece may name
/// another fault of the same broken document.
fn assert_agrees(bytes: &Bytes, max: usize) {
    let oracle = decode(bytes, max);
    let whole = read_whole(bytes, max);
    assert_eq!(format!("{whole:?}"), format!("{oracle:?}"), "{bytes:02x?}");
    let skip = skipped(bytes, max);
    assert_eq!(skip, oracle.as_ref().map(drop).map_err(Clone::clone));
    match (walked(bytes, max), &oracle) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{bytes:02x?}"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("walked {a:?}, decoded {b:?}: {bytes:02x?}"),
    }
}

#[test]
fn streaming_reads_agree_with_decode_on_every_document() {
    for doc in documents() {
        assert!(decode(&doc, 1_000_000).is_ok(), "{doc:02x?}");
        assert_agrees(&doc, 1_000_000);
    }
}

#[test]
fn every_truncation_is_an_error_in_every_reading() {
    for doc in documents().iter().filter(|d| d.len() < 2_000) {
        for len in 0..doc.len() {
            let cut = doc.slice(..len);
            assert!(decode(&cut, 1_000_000).is_err(), "{cut:02x?}");
            assert_agrees(&cut, 1_000_000);
        }
    }
}

#[test]
fn flipped_bytes_never_panic_and_agree_with_decode() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift64: deterministic, so a failure replays.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for doc in documents().iter().filter(|d| d.len() < 2_000) {
        for _ in 0..400 {
            let mut bytes = doc.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            let bytes = Bytes::from(bytes);
            assert_agrees(&bytes, 1_000_000);
            assert_agrees(&bytes, 10);
        }
    }
}

#[test]
fn huge_length_fields_reserve_nothing_and_fail() {
    for raw in [
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0][..],
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'k', 0xc0],
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'x'],
        &[0xc6, 0xff, 0xff, 0xff, 0xff, 0],
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0, 0],
        // Each level announces what fits, all of them together do not.
        &[0x92, 0x92, 0x92, 0xc0],
    ] {
        let bytes = Bytes::copy_from_slice(raw);
        assert_eq!(decode(&bytes, 100), Err(DecodeError::Truncated));
        assert_agrees(&bytes, 100);
        let mut r = Reader::new(&bytes);
        if raw[0] == 0xdd {
            assert_eq!(r.array_len(), Err(DecodeError::Truncated), "{raw:02x?}");
        } else if raw[0] == 0xdf {
            assert_eq!(r.map_len(), Err(DecodeError::Truncated), "{raw:02x?}");
        }
    }
}

#[test]
fn nesting_and_budget_limits_are_decode_s() {
    let mut deep = vec![0x91; MAX_DEPTH + 1];
    deep.push(0xc0);
    let deep = Bytes::from(deep);
    assert_eq!(decode(&deep, 1_000_000), Err(DecodeError::TooDeep));
    assert_agrees(&deep, 1_000_000);
    let mut r = Reader::new(&deep);
    for _ in 0..=MAX_DEPTH {
        assert_eq!(r.array_len(), Ok(1));
    }
    assert_eq!(r.nil(), Err(DecodeError::TooDeep));
    let ok = deep.slice(1..);
    assert_agrees(&ok, 1_000_000);
    assert!(walked(&ok, 1_000_000).is_ok());

    let four = Bytes::from_static(&[0x93, 1, 2, 3]);
    assert_eq!(decode(&four, 3), Err(DecodeError::TooManyElements(3)));
    assert_agrees(&four, 3);
    assert_agrees(&four, 4);
    let mut r = Reader::with_max_elements(&four, 3);
    assert_eq!((r.array_len(), r.uint(), r.uint()), (Ok(3), Ok(1), Ok(2)));
    assert_eq!(r.uint(), Err(DecodeError::TooManyElements(3)));
}

#[test]
fn a_read_of_the_wrong_kind_reads_nothing() {
    let bytes = Bytes::from_static(&[0x82, 0xa1, b'a', 0xff, 0xa1, b'b', 0x91, 0xc3]);
    let mut r = Reader::new(&bytes);
    assert_eq!(r.str(), Err(DecodeError::Unexpected("a string")));
    assert_eq!(r.map_len(), Ok(2));
    assert_eq!(r.peek(), Ok(Kind::Str));
    assert_eq!(r.str(), Ok("a"));
    assert_eq!(
        r.uint(),
        Err(DecodeError::Unexpected("an unsigned integer"))
    );
    assert_eq!(r.value(), Ok(Some(Value::from(-1))));
    assert_eq!(r.str(), Ok("b"));
    assert_eq!(r.bool(), Err(DecodeError::Unexpected("a boolean")));
    assert_eq!(r.array_len(), Ok(1));
    assert_eq!(r.bool(), Ok(true));
    assert_eq!(r.finish(), Ok(()));
}

#[test]
fn keys_must_be_strings_or_numbers() {
    // {[1]: 2}, {nil: 1}, {true: 1}
    for raw in [&[0x81, 0x91, 1, 2][..], &[0x81, 0xc0, 1], &[0x81, 0xc3, 1]] {
        let bytes = Bytes::copy_from_slice(raw);
        assert_eq!(decode(&bytes, 100), Err(DecodeError::InvalidKey));
        assert_agrees(&bytes, 100);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.map_len(), Ok(1));
        let key = match raw[1] {
            0x91 => r.array_len().map(drop),
            0xc0 => r.nil(),
            _ => r.bool().map(drop),
        };
        assert_eq!(key, Err(DecodeError::InvalidKey));
    }
}

#[test]
fn finish_wants_every_item_and_no_more_bytes() {
    let bytes = Bytes::from_static(&[0x92, 1, 2, 0xc0]);
    let mut r = Reader::new(&bytes);
    assert_eq!(r.array_len(), Ok(2));
    assert_eq!(r.uint(), Ok(1));
    assert_eq!(r.finish(), Err(DecodeError::Truncated));
    let mut r = Reader::new(&bytes);
    r.skip().unwrap();
    assert_eq!(r.remaining(), 1);
    assert_eq!(r.finish(), Err(DecodeError::Trailing(1)));
    assert_eq!(decode(&bytes, 100), Err(DecodeError::Trailing(1)));
}

#[test]
fn peek_names_every_marker_without_panicking() {
    for marker in 0..=255u8 {
        let bytes = Bytes::from(vec![marker]);
        let kind = Reader::new(&bytes).peek();
        match decode(&bytes, 10) {
            Ok(Some(Value::Number(n))) => assert_eq!(kind, Ok(Kind::Int), "{n:?}"),
            Ok(Some(Value::Null)) => assert_eq!(kind, Ok(Kind::Nil)),
            Ok(Some(Value::Bool(_))) => assert_eq!(kind, Ok(Kind::Bool)),
            _ if marker == 0xc1 => assert_eq!(kind, Err(DecodeError::InvalidFormat(0xc1))),
            _ => assert!(kind.is_ok(), "{marker:02x}"),
        }
    }
    let undefined = Bytes::from_static(&[0xd4, 0, 0]);
    assert_eq!(Reader::new(&undefined).peek(), Ok(Kind::Undefined));
    assert_eq!(
        Reader::new(&Bytes::new()).peek(),
        Err(DecodeError::Truncated)
    );
}
