//! The containers a [`Reader`](super::reader::Reader) has opened and not
//! finished, innermost last: the first few held inline, so that reading a
//! message of usual nesting allocates nothing for them.

/// Levels held without allocating.
const INLINE: usize = 8;

/// A container opened by a header and not finished yet.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Open {
    /// Items still to read: elements of an array, keys and values of a map.
    pub(super) left: usize,
    pub(super) map: bool,
}

/// A stack of [`Open`] containers.
#[derive(Debug, Default)]
pub(super) struct OpenStack {
    inline: [Open; INLINE],
    /// The levels past [`INLINE`].
    deeper: Vec<Open>,
    len: usize,
}

impl OpenStack {
    /// How many containers are open: the depth of the next item.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(super) fn push(&mut self, open: Open) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = open,
            None => self.deeper.push(open),
        }
        self.len += 1;
    }

    #[inline]
    pub(super) fn pop(&mut self) {
        if self.len > INLINE {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    /// The innermost container.
    #[inline]
    pub(super) fn last(&self) -> Option<&Open> {
        match self.len {
            0 => None,
            n if n <= INLINE => self.inline.get(n - 1),
            _ => self.deeper.last(),
        }
    }

    /// The innermost container, to count an item in.
    #[inline]
    pub(super) fn last_mut(&mut self) -> Option<&mut Open> {
        match self.len {
            0 => None,
            n if n <= INLINE => self.inline.get_mut(n - 1),
            _ => self.deeper.last_mut(),
        }
    }
}
