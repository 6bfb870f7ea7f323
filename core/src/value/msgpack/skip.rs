//! Reading past a value without building it: strings, blobs, arrays and
//! maps are walked in place, everything else is decoded and dropped, so
//! that a skipped value passes and fails exactly where a decoded one would.

use super::decode::DecodeError;
use super::reader::Reader;
use crate::value::tree::Value;

impl Reader<'_> {
    /// Reads past one value at `depth`, checking it as `value_at` would.
    pub(super) fn skip_at(&mut self, depth: usize) -> Result<(), DecodeError> {
        let Some(&marker) = self.input.get(self.pos) else {
            // Let decoding report the error it would.
            return self.value_at(depth).map(drop);
        };
        match marker {
            0x80..=0x8f | 0xde | 0xdf => {
                self.enter(depth)?;
                let len = match marker {
                    0xde => self.skip_len(2)?,
                    0xdf => self.skip_len(4)?,
                    _ => usize::from(marker & 0x0f),
                };
                self.skip_map(len, depth)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                self.enter(depth)?;
                let len = match marker {
                    0xdc => self.skip_len(2)?,
                    0xdd => self.skip_len(4)?,
                    _ => usize::from(marker & 0x0f),
                };
                self.claim(len)?;
                for _ in 0..len {
                    self.claimed = self.claimed.saturating_sub(1);
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                self.enter(depth)?;
                let len = match marker {
                    0xd9 => self.skip_len(1)?,
                    0xda => self.skip_len(2)?,
                    0xdb => self.skip_len(4)?,
                    _ => usize::from(marker & 0x1f),
                };
                let bytes = self.slice(len)?;
                std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
                Ok(())
            }
            0xc4..=0xc6 => {
                self.enter(depth)?;
                let len = self.skip_len(1 << (marker - 0xc4))?;
                self.slice(len).map(drop)
            }
            // Scalars and extensions hold no nested values: decode them.
            _ => self.value_at(depth).map(drop),
        }
    }

    /// A value starts at `depth`: checks the depth, takes one value from
    /// the budget and reads the marker.
    fn enter(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.spend(depth)?;
        self.slice(1).map(drop)
    }

    /// A big-endian length of `n` bytes.
    fn skip_len(&mut self, n: usize) -> Result<usize, DecodeError> {
        let bytes = self.slice(n)?;
        Ok(bytes.iter().fold(0, |acc, &b| acc << 8 | usize::from(b)))
    }

    fn skip_map(&mut self, len: usize, depth: usize) -> Result<(), DecodeError> {
        self.claim(len.saturating_mul(2))?;
        for _ in 0..len {
            self.claimed = self.claimed.saturating_sub(1);
            match self.value_at(depth + 1)? {
                Some(Value::String(_) | Value::Number(_)) => {}
                _ => return Err(DecodeError::InvalidKey),
            }
            self.claimed = self.claimed.saturating_sub(1);
            self.skip_at(depth + 1)?;
        }
        Ok(())
    }
}
