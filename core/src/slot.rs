//! `ConnectionSlot`: the count of open connections that the listener keeps
//! within its limit, carried by every request of a connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An open connection, counted until every part of it is gone: its HTTP
/// requests carry a clone (a request extension), and so does a WebSocket
/// that outlives the HTTP exchange that upgraded it.
#[derive(Clone, Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<SlotGuard>);

#[derive(Debug)]
struct SlotGuard(Arc<AtomicUsize>);

impl ConnectionSlot {
    /// Takes one slot of `open`, which the caller has already counted up;
    /// it is given back when the last clone is dropped.
    pub(crate) fn new(open: Arc<AtomicUsize>) -> Self {
        ConnectionSlot(Arc::new(SlotGuard(open)))
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
