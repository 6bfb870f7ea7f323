//! [`Reader`]: one MessagePack document read piece by piece (a map's
//! header, a key, a whole value…), so that a decoder can build its own types
//! straight from the bytes instead of going through a `Value` tree, with the
//! limits [`decode`](super::decode::decode) keeps.

use super::decode::{DEFAULT_MAX_ELEMENTS, DecodeError, MAX_DEPTH};
use super::open::{Open, OpenStack};
use crate::value::tree::Value;
use bytes::Bytes;

/// What the next value is, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `nil`.
    Nil,
    /// notepack's `undefined` (fixext1 of type 0).
    Undefined,
    /// `true` or `false`.
    Bool,
    /// An integer, of any width or sign.
    Int,
    /// A float32 or float64.
    Float,
    /// A string.
    Str,
    /// A binary blob.
    Bin,
    /// An array.
    Array,
    /// A map.
    Map,
    /// Any other extension (dates, `ArrayBuffer`s, unknown types).
    Ext,
}

/// Reads one MessagePack document piece by piece, within the limits of
/// [`from_msgpack`](crate::value::from_msgpack): a budget of values (each
/// header, key and scalar counts one), a nesting depth, length fields that
/// never reserve more than the input left can hold, and map keys that are
/// strings or numbers. Read every announced item, then call
/// [`finish`](Reader::finish).
///
/// A typed read of the wrong kind fails with [`DecodeError::Unexpected`]
/// and reads nothing; after any other error the reader is spent.
#[derive(Debug)]
pub struct Reader<'a> {
    pub(super) input: &'a Bytes,
    pub(super) pos: usize,
    pub(super) max_elements: usize,
    /// Values still allowed.
    pub(super) elements: usize,
    /// Items announced by the containers being read and not started yet.
    /// Each takes at least a byte, so together they never exceed the
    /// input left: a length field can reserve no more than the input holds,
    /// summed over every level of nesting.
    pub(super) claimed: usize,
    /// The containers opened by headers, innermost last.
    open: OpenStack,
}

impl<'a> Reader<'a> {
    /// A reader of `input`, of at most [`DEFAULT_MAX_ELEMENTS`] values (what
    /// [`from_msgpack`](crate::value::from_msgpack) allows).
    pub fn new(input: &'a Bytes) -> Self {
        Self::with_max_elements(input, DEFAULT_MAX_ELEMENTS)
    }

    /// A reader of `input`, of at most `max_elements` values.
    pub fn with_max_elements(input: &'a Bytes, max_elements: usize) -> Self {
        Reader {
            input,
            pos: 0,
            max_elements,
            elements: max_elements,
            claimed: 0,
            open: OpenStack::default(),
        }
    }

    /// The kind of the next value, without reading it.
    #[inline]
    pub fn peek(&self) -> Result<Kind, DecodeError> {
        let marker = self.byte_at(0)?;
        Ok(match marker {
            0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => Kind::Int,
            0x80..=0x8f | 0xde | 0xdf => Kind::Map,
            0x90..=0x9f | 0xdc | 0xdd => Kind::Array,
            0xa0..=0xbf | 0xd9..=0xdb => Kind::Str,
            0xc0 => Kind::Nil,
            0xc2 | 0xc3 => Kind::Bool,
            0xc4..=0xc6 => Kind::Bin,
            0xca | 0xcb => Kind::Float,
            0xd4 if self.byte_at(1) == Ok(0) => Kind::Undefined,
            0xc7..=0xc9 | 0xd4..=0xd8 => Kind::Ext,
            0xc1 => return Err(DecodeError::InvalidFormat(marker)),
        })
    }

    /// Reads a map's header: its number of entries, whose keys and values
    /// follow, `2 × len` items.
    #[inline]
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        self.container(true)
    }

    /// Reads an array's header: its number of elements, which follow.
    #[inline]
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        self.container(false)
    }

    /// Reads a string, borrowed from the input.
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        self.check(true)?;
        let (header, len) = match self.byte_at(0)? {
            m @ 0xa0..=0xbf => (1, usize::from(m & 0x1f)),
            0xd9 => (2, self.be_at(1, 1)? as usize),
            0xda => (3, self.be_at(1, 2)? as usize),
            0xdb => (5, self.be_at(1, 4)? as usize),
            _ => return Err(DecodeError::Unexpected("a string")),
        };
        self.commit(header);
        let bytes = self.slice(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        self.end();
        Ok(text)
    }

    /// Reads an integer that is not negative, in any integer format.
    #[inline]
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        self.check(true)?;
        let (size, value) = match self.byte_at(0)? {
            m @ 0x00..=0x7f => (1, u64::from(m)),
            0xcc => (2, self.be_at(1, 1)?),
            0xcd => (3, self.be_at(1, 2)?),
            0xce => (5, self.be_at(1, 4)?),
            0xcf => (9, self.be_at(1, 8)?),
            m @ 0xd0..=0xd3 => {
                let width = 1 << (m - 0xd0);
                let raw = self.be_at(1, width)?;
                // Sign-extends the big-endian bytes.
                let shift = 64 - 8 * width as u32;
                match u64::try_from(((raw << shift) as i64) >> shift) {
                    Ok(value) => (1 + width, value),
                    Err(_) => return Err(DecodeError::Unexpected("an unsigned integer")),
                }
            }
            _ => return Err(DecodeError::Unexpected("an unsigned integer")),
        };
        self.commit(size);
        self.end();
        Ok(value)
    }

    /// Reads `true` or `false`.
    #[inline]
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        self.check(false)?;
        let value = match self.byte_at(0)? {
            0xc2 => false,
            0xc3 => true,
            _ => return Err(DecodeError::Unexpected("a boolean")),
        };
        self.commit(1);
        self.end();
        Ok(value)
    }

    /// Reads `nil`.
    #[inline]
    pub fn nil(&mut self) -> Result<(), DecodeError> {
        self.check(false)?;
        if self.byte_at(0)? != 0xc0 {
            return Err(DecodeError::Unexpected("nil"));
        }
        self.commit(1);
        self.end();
        Ok(())
    }

    /// Reads one whole value, as [`from_msgpack`](crate::value::from_msgpack)
    /// would (`None` for `undefined`; an `undefined` inside an array is
    /// `Null`, inside a map its entry is left out).
    #[inline]
    pub fn value(&mut self) -> Result<Option<Value>, DecodeError> {
        let key = self.at_key();
        self.claimed = self.claimed.saturating_sub(1);
        let value = self.value_at(self.open.len())?;
        if key && !matches!(value, Some(Value::String(_) | Value::Number(_))) {
            return Err(DecodeError::InvalidKey);
        }
        self.end();
        Ok(value)
    }

    /// Reads past one whole value, checking it as [`Reader::value`] would,
    /// without building it.
    #[inline]
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        if self.at_key() {
            return self.value().map(drop);
        }
        self.claimed = self.claimed.saturating_sub(1);
        self.skip_at(self.open.len())?;
        self.end();
        Ok(())
    }

    /// Ends the document: every announced item was read and no byte is
    /// left.
    pub fn finish(self) -> Result<(), DecodeError> {
        if !self.open.is_empty() || self.claimed > 0 {
            return Err(DecodeError::Truncated);
        }
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Whether the next item is a map's key.
    #[inline]
    fn at_key(&self) -> bool {
        self.open.last().is_some_and(|o| o.map && o.left % 2 == 0)
    }

    /// The checks before an item: its depth and the budget, and, for a
    /// header or scalar that is no string or number (`!key_ok`), that it
    /// is not a map's key.
    #[inline]
    fn check(&self, key_ok: bool) -> Result<(), DecodeError> {
        if self.open.len() > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        if self.elements == 0 {
            return Err(DecodeError::TooManyElements(self.max_elements));
        }
        if !key_ok && self.at_key() {
            return Err(DecodeError::InvalidKey);
        }
        Ok(())
    }

    /// An item passed [`Self::check`] and starts: it takes one value from
    /// the budget and `header` bytes.
    #[inline]
    fn commit(&mut self, header: usize) {
        self.claimed = self.claimed.saturating_sub(1);
        self.elements = self.elements.saturating_sub(1);
        self.pos += header;
    }

    /// An item is complete: it counts in its container, which may complete
    /// in turn.
    #[inline]
    fn end(&mut self) {
        while let Some(open) = self.open.last_mut() {
            open.left = open.left.saturating_sub(1);
            if open.left > 0 {
                return;
            }
            self.open.pop();
        }
    }

    #[inline]
    fn container(&mut self, map: bool) -> Result<usize, DecodeError> {
        self.check(false)?;
        let (header, len) = match (self.byte_at(0)?, map) {
            (m @ 0x80..=0x8f, true) | (m @ 0x90..=0x9f, false) => (1, usize::from(m & 0x0f)),
            (0xde, true) | (0xdc, false) => (3, self.be_at(1, 2)? as usize),
            (0xdf, true) | (0xdd, false) => (5, self.be_at(1, 4)? as usize),
            (_, true) => return Err(DecodeError::Unexpected("a map")),
            (_, false) => return Err(DecodeError::Unexpected("an array")),
        };
        self.commit(header);
        let items = if map { len.saturating_mul(2) } else { len };
        self.claim(items)?;
        if items == 0 {
            self.end();
        } else {
            self.open.push(Open { left: items, map });
        }
        Ok(len)
    }

    /// Accounts for a container announcing `n` items; returns the capacity
    /// worth reserving for them.
    #[inline]
    pub(super) fn claim(&mut self, n: usize) -> Result<usize, DecodeError> {
        let claimed = self.claimed.saturating_add(n);
        if claimed > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        self.claimed = claimed;
        Ok(n.min(self.elements))
    }

    /// The byte `at` past the position, not read.
    #[inline]
    fn byte_at(&self, at: usize) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos.saturating_add(at))
            .copied()
            .ok_or(DecodeError::Truncated)
    }

    /// The big-endian integer of `n` bytes (at most 8) `at` past the
    /// position, not read.
    #[inline]
    fn be_at(&self, at: usize, n: usize) -> Result<u64, DecodeError> {
        let start = self.pos.saturating_add(at);
        let bytes = self
            .input
            .get(start..start.saturating_add(n))
            .ok_or(DecodeError::Truncated)?;
        Ok(bytes.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// Reads the next `n` bytes, borrowed from the input.
    #[inline]
    pub(super) fn slice(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let input: &'a Bytes = self.input;
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = input.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }
}
