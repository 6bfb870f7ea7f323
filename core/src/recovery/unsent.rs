//! `Unsent`: the replay a restored socket never got, because its client
//! left again before the socket was connected. The session is kept again
//! and the client comes back with the same offset, which the node that
//! keeps it now may not hold: it learnt the replay from another node.

use super::offset_of;
use crate::protocol::Packet;
use smol_str::SmolStr;
use std::collections::HashSet;
use std::time::Instant;

/// What a restored socket was to be sent, and when its recovery began.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsent {
    /// The offset the client recovered from.
    pub offset: SmolStr,
    /// The packets it missed since, in order, each ending with its offset.
    pub missed: Vec<Packet>,
    /// When its recovery began on this node: what the node kept for its
    /// rooms since then is newer than the client's offset, and follows the
    /// replay (once: what the replay holds is not sent again).
    pub since: Instant,
}

impl Unsent {
    /// The replayed packets after `offset`, when `offset` is where the
    /// replay starts or one of its packets; `None` otherwise.
    pub fn after(&self, offset: &str) -> Option<&[Packet]> {
        if offset == self.offset {
            return Some(&self.missed);
        }
        let at = self
            .missed
            .iter()
            .position(|p| offset_of(p).is_some_and(|o| o == offset))?;
        Some(&self.missed[at + 1..])
    }

    /// The offsets of the replayed packets.
    pub(crate) fn offsets(&self) -> HashSet<SmolStr> {
        self.missed.iter().filter_map(offset_of).collect()
    }
}
