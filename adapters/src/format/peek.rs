//! Reading one string out of a MessagePack message without decoding the
//! rest: a message's publisher, for routing it before it is decoded.
//!
//! Nothing here allocates or recurses; hostile lengths stop at the end of
//! the input.

/// The bytes do not start with what was looked for, or are cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable;

/// The string under `key` in the MessagePack map that `bytes` starts with
/// (Switchyard's messages `{uid, nsp, type, data?}`): `Ok(None)` when the
/// map has no string under `key`, `Err` when `bytes` is no map or is cut
/// short before the key.
pub fn map_str<'a>(bytes: &'a [u8], key: &str) -> Result<Option<&'a str>, Unreadable> {
    let mut cursor = Cursor { bytes };
    let entries = cursor.map_len()?;
    for _ in 0..entries {
        if cursor.value_str()? == Some(key) {
            return cursor.value_str();
        }
        cursor.skip()?;
    }
    Ok(None)
}

/// The string that opens the MessagePack array `bytes` starts with (Node's
/// broadcasts `[uid, packet, opts]`); `None` for anything else.
pub fn array_first_str(bytes: &[u8]) -> Option<&str> {
    let mut cursor = Cursor { bytes };
    let len = match cursor.byte().ok()? {
        marker @ 0x90..=0x9f => usize::from(marker & 0x0f),
        0xdc => cursor.len(2).ok()?,
        0xdd => cursor.len(4).ok()?,
        _ => return None,
    };
    if len == 0 {
        return None;
    }
    cursor.value_str().ok().flatten()
}

/// What is left to read.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8, Unreadable> {
        let (&first, rest) = self.bytes.split_first().ok_or(Unreadable)?;
        self.bytes = rest;
        Ok(first)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Unreadable> {
        if n > self.bytes.len() {
            return Err(Unreadable);
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    /// A big-endian length of `width` bytes.
    fn len(&mut self, width: usize) -> Result<usize, Unreadable> {
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    /// The number of entries of the map that comes next.
    fn map_len(&mut self) -> Result<usize, Unreadable> {
        match self.byte()? {
            marker @ 0x80..=0x8f => Ok(usize::from(marker & 0x0f)),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => Err(Unreadable),
        }
    }

    /// Reads the next value: the string it is, `None` when it is no UTF-8
    /// string (and was skipped).
    fn value_str(&mut self) -> Result<Option<&'a str>, Unreadable> {
        let len = match self.bytes.first() {
            Some(&marker @ 0xa0..=0xbf) => {
                self.byte()?;
                usize::from(marker & 0x1f)
            }
            Some(&marker @ 0xd9..=0xdb) => {
                self.byte()?;
                self.len(1 << (marker - 0xd9))?
            }
            _ => {
                self.skip()?;
                return Ok(None);
            }
        };
        Ok(std::str::from_utf8(self.take(len)?).ok())
    }

    /// Skips one value with everything nested in it, without recursion.
    fn skip(&mut self) -> Result<(), Unreadable> {
        let mut values: usize = 1;
        while values > 0 {
            values -= 1;
            let marker = self.byte()?;
            let (nested, skipped) = match marker {
                0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
                0x80..=0x8f => (2 * usize::from(marker & 0x0f), 0),
                0x90..=0x9f => (usize::from(marker & 0x0f), 0),
                0xa0..=0xbf => (0, usize::from(marker & 0x1f)),
                // bin, str: a length then the bytes.
                0xc4 | 0xd9 => (0, self.len(1)?),
                0xc5 | 0xda => (0, self.len(2)?),
                0xc6 | 0xdb => (0, self.len(4)?),
                // ext: a length, a type byte, the bytes.
                0xc7 => (0, self.len(1)? + 1),
                0xc8 => (0, self.len(2)? + 1),
                0xc9 => (0, self.len(4)?.saturating_add(1)),
                0xca => (0, 4),
                0xcb => (0, 8),
                0xcc | 0xd0 => (0, 1),
                0xcd | 0xd1 => (0, 2),
                0xce | 0xd2 => (0, 4),
                0xcf | 0xd3 => (0, 8),
                // fixext 1, 2, 4, 8, 16: a type byte and the bytes.
                0xd4..=0xd8 => (0, 1 + (1 << (marker - 0xd4))),
                0xdc => (self.len(2)?, 0),
                0xdd => (self.len(4)?, 0),
                0xde => (2 * self.len(2)?, 0),
                0xdf => (self.len(4)?.saturating_mul(2), 0),
                // 0xc1 is never used.
                _ => return Err(Unreadable),
            };
            self.take(skipped)?;
            values = values.saturating_add(nested);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::value::to_msgpack;
    use switchyard_core::{Value, object};

    fn bytes(value: &Value) -> Vec<u8> {
        to_msgpack(value)
    }

    #[test]
    fn finds_the_key_wherever_it_is_in_the_map() {
        let nested = object! {
            "data" => object! { "uid" => "inner", "list" => Value::Array(vec![1.into(), "x".into(), Value::Null]) },
            "blob" => Value::Binary(bytes::Bytes::from(vec![0xc1; 300])),
            "n" => -70_000i64,
            "f" => 1.5f64,
            "long" => "y".repeat(70_000),
            "uid" => "abc",
        };
        assert_eq!(map_str(&bytes(&nested), "uid"), Ok(Some("abc")));
        let first = object! { "uid" => "0123456789abcdef", "nsp" => "/" };
        assert_eq!(map_str(&bytes(&first), "uid"), Ok(Some("0123456789abcdef")));
    }

    #[test]
    fn tells_a_missing_key_from_unreadable_bytes() {
        assert_eq!(map_str(&bytes(&object! { "nsp" => "/" }), "uid"), Ok(None));
        assert_eq!(map_str(&bytes(&object! { "uid" => 5 }), "uid"), Ok(None));
        assert_eq!(map_str(b"not msgpack", "uid"), Err(Unreadable));
        assert_eq!(map_str(&[], "uid"), Err(Unreadable));
        assert_eq!(map_str(&[0xc1], "uid"), Err(Unreadable));
        // A map claiming more than it holds, and strings cut short.
        assert_eq!(
            map_str(&[0xdf, 0xff, 0xff, 0xff, 0xff], "uid"),
            Err(Unreadable)
        );
        assert_eq!(map_str(&[0x81, 0xa3, b'u', b'i'], "uid"), Err(Unreadable));
        assert_eq!(
            map_str(&[0x82, 0xa1, b'a', 0xdd, 0xff, 0xff, 0xff, 0xff], "uid"),
            Err(Unreadable)
        );
    }

    #[test]
    fn reads_the_string_opening_an_array() {
        let broadcast = Value::Array(vec!["node-a".into(), object! { "type" => 2 }, Value::Null]);
        assert_eq!(array_first_str(&bytes(&broadcast)), Some("node-a"));
        assert_eq!(array_first_str(&bytes(&Value::Array(vec![1.into()]))), None);
        assert_eq!(array_first_str(&bytes(&Value::Array(vec![]))), None);
        assert_eq!(array_first_str(&bytes(&object! { "uid" => "a" })), None);
        assert_eq!(array_first_str(&[0x91, 0xa5, b'a']), None);
    }
}
