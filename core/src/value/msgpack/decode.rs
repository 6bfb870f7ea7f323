//! Reading one MessagePack document into a `Value`, within a nesting depth
//! and a budget of values, with notepack's extensions.

use super::reader::Reader;
use crate::value::date::iso_string;
use crate::value::map::Map;
use crate::value::tree::Value;
use bytes::Bytes;

/// Nesting deeper than this is refused (a hostile peer could nest millions).
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a MessagePack document could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
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
    /// A typed read found a value of another kind (nothing was read).
    #[error("msgpack: expected {0}")]
    Unexpected(&'static str),
    /// Bytes remain after the document.
    #[error("{0} trailing bytes after the msgpack document")]
    Trailing(usize),
    /// The document holds more values than the budget allows.
    #[error("msgpack document with more than {0} values")]
    TooManyElements(usize),
}

/// Most values a document decoded without an explicit budget may hold
/// (what [`from_msgpack`](crate::value::from_msgpack) allows).
pub const DEFAULT_MAX_ELEMENTS: usize = 1_000_000;

/// Reads one document that must span all of `input`, made of at most
/// `max_elements` values. `None` is notepack's `undefined`.
pub(crate) fn decode(input: &Bytes, max_elements: usize) -> Result<Option<Value>, DecodeError> {
    let mut reader = Reader::with_max_elements(input, max_elements);
    let value = reader.value()?;
    reader.finish()?;
    Ok(value)
}

/// Reading whole values, recursively: `depth` is the nesting of the value
/// read, checked against [`MAX_DEPTH`].
impl Reader<'_> {
    /// An announced element starts.
    fn start_element(&mut self) {
        self.claimed = self.claimed.saturating_sub(1);
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.slice(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, DecodeError> {
        let b = self.slice(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u32(&mut self) -> Result<usize, DecodeError> {
        Ok(self.be32()? as usize)
    }
    fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.slice(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.slice(8)?;
        Ok(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.slice(n)?;
        Ok(self.input.slice(start..self.pos))
    }
    fn string(&mut self, n: usize) -> Result<String, DecodeError> {
        let bytes = self.slice(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    /// A value starts at `depth`: checks the depth and takes one value
    /// from the budget.
    pub(super) fn spend(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.elements = self
            .elements
            .checked_sub(1)
            .ok_or(DecodeError::TooManyElements(self.max_elements))?;
        Ok(())
    }

    pub(super) fn value_at(&mut self, depth: usize) -> Result<Option<Value>, DecodeError> {
        self.spend(depth)?;
        let marker = self.u8()?;
        let value = match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Value::String(self.string(usize::from(marker & 0x1f))?),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc9 | 0xd9..=0xdf => self.sized(marker, depth)?,
            0xca..=0xd3 => self.number(marker)?,
            0xd4 => match self.ext(1, true)? {
                Value::Null => return Ok(None),
                other => other,
            },
            0xd5 => self.ext(2, true)?,
            0xd6 => self.ext(4, true)?,
            0xd7 => self.ext(8, true)?,
            0xd8 => self.ext(16, true)?,
            0xe0..=0xff => Value::from(marker as i8),
            0xc1 => return Err(DecodeError::InvalidFormat(marker)),
        };
        Ok(Some(value))
    }

    /// A value whose length follows its marker in 8, 16 or 32 bits: binary,
    /// extension, string, array or map.
    #[inline]
    fn sized(&mut self, marker: u8, depth: usize) -> Result<Value, DecodeError> {
        Ok(match marker {
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
            _ => return Err(DecodeError::InvalidFormat(marker)),
        })
    }

    /// A number in one of its sized formats: float32/64, unsigned or signed
    /// 8 to 64 bits.
    #[inline]
    fn number(&mut self, marker: u8) -> Result<Value, DecodeError> {
        Ok(match marker {
            0xca => Value::from(f64::from(f32::from_bits(self.be32()?))),
            0xcb => Value::from(f64::from_bits(self.be64()?)),
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(self.u16()?),
            0xce => Value::from(self.u32()?),
            0xcf => Value::from(self.be64()?),
            0xd0 => Value::from(self.u8()? as i8),
            0xd1 => Value::from(self.u16()? as u16 as i16),
            0xd2 => Value::from(self.be32()? as i32),
            0xd3 => Value::from(self.be64()? as i64),
            _ => return Err(DecodeError::InvalidFormat(marker)),
        })
    }

    /// An extension: `fixed` marks the fixext forms, whose type 0 means
    /// `undefined` (1 byte) or a `Date` (8 bytes); the sized forms' type 0 is an
    /// `ArrayBuffer`. Other types become `[type, bytes]`, as notepack returns.
    fn ext(&mut self, len: usize, fixed: bool) -> Result<Value, DecodeError> {
        let kind = self.u8()? as i8;
        let data = self.take(len)?;
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Ok(match (kind, fixed, len) {
            (0, true, 1) => Value::Null,
            (0, true, 8) => {
                let hi = i64::from(be32(&data[..4]) as i32);
                Value::String(iso_string(hi * (1 << 32) + i64::from(be32(&data[4..]))))
            }
            // The msgpack timestamp extension: 32, 64 or 96 bits.
            (-1, true, 4) => Value::String(iso_string(i64::from(be32(&data)) * 1000)),
            (-1, true, 8) => {
                let all = u64::from_be_bytes([
                    data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7],
                ]);
                let (nanos, secs) = ((all >> 34) as i64, (all & 0x3_ffff_ffff) as i64);
                Value::String(iso_string(secs * 1000 + nanos / 1_000_000))
            }
            (-1, false, 12) => {
                let nanos = i64::from(be32(&data[..4]));
                let secs = i64::from_be_bytes([
                    data[4], data[5], data[6], data[7], data[8], data[9], data[10], data[11],
                ]);
                Value::String(iso_string(
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
            items.push(self.value_at(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        // A key and a value per entry.
        let capacity = self.claim(len.saturating_mul(2))? / 2;
        let mut entries = Map::with_capacity(capacity);
        for _ in 0..len {
            self.start_element();
            let key = match self.value_at(depth + 1)? {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(DecodeError::InvalidKey),
            };
            // `undefined` members do not exist in JavaScript: drop them.
            self.start_element();
            if let Some(value) = self.value_at(depth + 1)? {
                entries.insert(key, value);
            }
        }
        Ok(Value::Object(entries))
    }
}
