//! `Value` as MessagePack, laid out as `notepack.io` (the codec of
//! `socket.io-msgpack-parser`) writes and reads it.
//!
//! notepack's conventions: integral numbers use the smallest integer format,
//! other numbers float64; `Buffer` is `bin`; `ArrayBuffer` is ext type 0;
//! `undefined` is fixext1 type 0. Dates (fixext8 type 0 in milliseconds from
//! notepack 2, the timestamp extension −1 from notepack 3) become the ISO
//! strings `JSON.stringify` would make of them.

use super::{Map, Value};
use bytes::{Buf, Bytes};

/// Nesting deeper than this is refused (a hostile peer could nest millions).
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a MessagePack document could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// The input ends inside a value.
    #[error("msgpack input ends early")]
    Truncated,
    /// Values nest deeper than the limit.
    #[error("msgpack nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A byte that starts no valid value.
    #[error("msgpack byte 0x{0:02x} is not a valid format")]
    InvalidFormat(u8),
    /// A string is not UTF-8.
    #[error("msgpack string is not UTF-8")]
    InvalidUtf8,
    /// A map key is neither a string nor a number.
    #[error("msgpack object key must be a string or a number")]
    InvalidKey,
    /// Bytes remain after the document.
    #[error("{0} trailing bytes after the msgpack document")]
    Trailing(usize),
    /// The document holds more values than the budget allows.
    #[error("msgpack document with more than {0} values")]
    TooManyElements(usize),
}

// ---- encoding -------------------------------------------------------------

/// Appends `value` to `out`.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => match n.integral() {
            Some(i) if i >= 0 => write_uint(out, i as u64),
            Some(i) => write_int(out, i as i64),
            None => {
                out.push(0xcb);
                out.extend_from_slice(&n.as_f64().to_be_bytes());
            }
        },
        Value::String(s) => write_str(out, s),
        Value::Binary(b) => {
            write_len(out, b.len(), [0xc4, 0xc5, 0xc6], None);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Object(entries) => {
            write_map_len(out, entries.len());
            for (key, item) in entries {
                write_str(out, key);
                write_value(out, item);
            }
        }
    }
}

/// Appends a string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len(), [0xd9, 0xda, 0xdb], Some((0xa0, 32)));
    out.extend_from_slice(s.as_bytes());
}

/// Appends an array header.
pub(crate) fn write_array_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, [0xdc, 0xdc, 0xdd], Some((0x90, 16)));
}

/// Appends a map header.
pub(crate) fn write_map_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, [0xde, 0xde, 0xdf], Some((0x80, 16)));
}

/// Writes a length with the fix form when it fits, else 8/16/32-bit forms
/// (`formats` = [8-bit, 16-bit, 32-bit] markers; arrays and maps have no
/// 8-bit form, so their first marker repeats the 16-bit one).
fn write_len(out: &mut Vec<u8>, len: usize, formats: [u8; 3], fix: Option<(u8, usize)>) {
    match fix {
        Some((marker, limit)) if len < limit => out.push(marker | len as u8),
        _ if len < 0x100 && formats[0] != formats[1] => {
            out.extend_from_slice(&[formats[0], len as u8])
        }
        _ if len < 0x10000 => {
            out.push(formats[1]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(formats[2]);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// Appends a non-negative integer in its smallest format.
pub(crate) fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n < 0x10000 {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

// ---- decoding -------------------------------------------------------------

/// Reads one document that must span all of `input`, made of at most
/// `max_elements` values. `None` is notepack's `undefined`.
pub(crate) fn decode(input: &Bytes, max_elements: usize) -> Result<Option<Value>, DecodeError> {
    let mut reader = Reader {
        buf: input.clone(),
        max_elements,
        elements: max_elements,
        claimed: 0,
    };
    let value = reader.value(0)?;
    match reader.buf.remaining() {
        0 => Ok(value),
        n => Err(DecodeError::Trailing(n)),
    }
}

struct Reader {
    buf: Bytes,
    max_elements: usize,
    /// Values still allowed.
    elements: usize,
    /// Elements announced by the arrays and maps being read and not started
    /// yet. Each takes at least a byte, so together they never exceed the
    /// input left: a length field can reserve no more than the input holds,
    /// summed over every level of nesting.
    claimed: usize,
}

impl Reader {
    /// Accounts for a container announcing `n` elements; returns the
    /// capacity worth reserving for them.
    fn claim(&mut self, n: usize) -> Result<usize, DecodeError> {
        let claimed = self.claimed.saturating_add(n);
        if claimed > self.buf.remaining() {
            return Err(DecodeError::Truncated);
        }
        self.claimed = claimed;
        Ok(n.min(self.elements))
    }

    /// An announced element starts.
    fn start_element(&mut self) {
        self.claimed = self.claimed.saturating_sub(1);
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.remaining() < n {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }
    fn u16(&mut self) -> Result<usize, DecodeError> {
        self.need(2)?;
        Ok(usize::from(self.buf.get_u16()))
    }
    fn u32(&mut self) -> Result<usize, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32() as usize)
    }
    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }
    fn string(&mut self, n: usize) -> Result<String, DecodeError> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8)
    }

    fn value(&mut self, depth: usize) -> Result<Option<Value>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.elements = self
            .elements
            .checked_sub(1)
            .ok_or(DecodeError::TooManyElements(self.max_elements))?;
        let marker = self.u8()?;
        let value = match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Value::String(self.string(usize::from(marker & 0x1f))?),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = usize::from(self.u8()?);
                Value::Binary(self.take(n)?)
            }
            0xc5 => {
                let n = self.u16()?;
                Value::Binary(self.take(n)?)
            }
            0xc6 => {
                let n = self.u32()?;
                Value::Binary(self.take(n)?)
            }
            0xc7 => {
                let n = usize::from(self.u8()?);
                self.ext(n, false)?
            }
            0xc8 => {
                let n = self.u16()?;
                self.ext(n, false)?
            }
            0xc9 => {
                let n = self.u32()?;
                self.ext(n, false)?
            }
            0xca => {
                self.need(4)?;
                Value::from(f64::from(self.buf.get_f32()))
            }
            0xcb => {
                self.need(8)?;
                Value::from(self.buf.get_f64())
            }
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(self.u16()?),
            0xce => Value::from(self.u32()?),
            0xcf => {
                self.need(8)?;
                Value::from(self.buf.get_u64())
            }
            0xd0 => {
                self.need(1)?;
                Value::from(self.buf.get_i8())
            }
            0xd1 => {
                self.need(2)?;
                Value::from(self.buf.get_i16())
            }
            0xd2 => {
                self.need(4)?;
                Value::from(self.buf.get_i32())
            }
            0xd3 => {
                self.need(8)?;
                Value::from(self.buf.get_i64())
            }
            0xd4 => match self.ext(1, true)? {
                Value::Null => return Ok(None),
                other => other,
            },
            0xd5 => self.ext(2, true)?,
            0xd6 => self.ext(4, true)?,
            0xd7 => self.ext(8, true)?,
            0xd8 => self.ext(16, true)?,
            0xd9 => {
                let n = usize::from(self.u8()?);
                Value::String(self.string(n)?)
            }
            0xda => {
                let n = self.u16()?;
                Value::String(self.string(n)?)
            }
            0xdb => {
                let n = self.u32()?;
                Value::String(self.string(n)?)
            }
            0xdc => {
                let n = self.u16()?;
                self.array(n, depth)?
            }
            0xdd => {
                let n = self.u32()?;
                self.array(n, depth)?
            }
            0xde => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::from(marker as i8),
            0xc1 => return Err(DecodeError::InvalidFormat(marker)),
        };
        Ok(Some(value))
    }

    /// An extension: `fixed` marks the fixext forms, whose type 0 means
    /// `undefined` (1 byte) or a `Date` (8 bytes); the sized forms' type 0 is an
    /// `ArrayBuffer`. Other types become `[type, bytes]`, as notepack returns.
    fn ext(&mut self, len: usize, fixed: bool) -> Result<Value, DecodeError> {
        self.need(1)?;
        let kind = self.buf.get_i8();
        let data = self.take(len)?;
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Ok(match (kind, fixed, len) {
            (0, true, 1) => Value::Null,
            (0, true, 8) => {
                let hi = i64::from(be32(&data[..4]) as i32);
                Value::String(super::date::iso_string(
                    hi * (1 << 32) + i64::from(be32(&data[4..])),
                ))
            }
            // The msgpack timestamp extension: 32, 64 or 96 bits.
            (-1, true, 4) => Value::String(super::date::iso_string(i64::from(be32(&data)) * 1000)),
            (-1, true, 8) => {
                let all = u64::from_be_bytes([
                    data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7],
                ]);
                let (nanos, secs) = ((all >> 34) as i64, (all & 0x3_ffff_ffff) as i64);
                Value::String(super::date::iso_string(secs * 1000 + nanos / 1_000_000))
            }
            (-1, false, 12) => {
                let nanos = i64::from(be32(&data[..4]));
                let secs = i64::from_be_bytes([
                    data[4], data[5], data[6], data[7], data[8], data[9], data[10], data[11],
                ]);
                Value::String(super::date::iso_string(
                    secs.saturating_mul(1000).saturating_add(nanos / 1_000_000),
                ))
            }
            (0, false, _) => Value::Binary(data),
            _ => Value::Array(vec![Value::from(kind), Value::Binary(data)]),
        })
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut items = Vec::with_capacity(self.claim(len)?);
        for _ in 0..len {
            self.start_element();
            items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        // A key and a value per entry.
        let capacity = self.claim(len.saturating_mul(2))? / 2;
        let mut entries = Map::with_capacity(capacity);
        for _ in 0..len {
            self.start_element();
            let key = match self.value(depth + 1)? {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(DecodeError::InvalidKey),
            };
            // `undefined` members do not exist in JavaScript: drop them.
            self.start_element();
            if let Some(value) = self.value(depth + 1)? {
                entries.insert(key, value);
            }
        }
        Ok(Value::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object;

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
            0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa4, b'd', b'a', b't', b'a', 0x94, 0xa1,
            b'a', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xff, 0xcd, 0x01, 0x2c, 0xa3, b'n', b's',
            b'p', 0xa1, b'/',
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn reads_notepack_extensions() {
        // {data: undefined} drops the key; ArrayBuffer (ext 8, type 0) is binary.
        let undefined_member =
            Bytes::from_static(&[0x81, 0xa4, b'd', b'a', b't', b'a', 0xd4, 0, 0]);
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
        let ts64 =
            Bytes::from_static(&[0xd7, 0xff, 0x1d, 0x53, 0x53, 0x00, 0x6b, 0x06, 0xae, 0x80]);
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
}
