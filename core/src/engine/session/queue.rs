//! The session's outgoing queue: producers push encoded frames, within the
//! client's budget; the transport takes them in order.

use super::{Push, Session};
use crate::engine::packet::Frame;
use crate::engine::{CloseReason, EngineHandler};
use std::sync::atomic::Ordering;

/// What a queued frame costs beyond its bytes (its slot and bookkeeping).
const FRAME_OVERHEAD: usize = 48;

#[inline]
fn cost(frames: &[Frame]) -> usize {
    frames.iter().map(|f| f.len() + FRAME_OVERHEAD).sum()
}

impl<H: EngineHandler> Session<H> {
    /// Queues frames that must stay together (a packet and its attachments).
    ///
    /// Never blocks. A volatile packet is dropped when the client still has
    /// unsent data; a client past its budget (`max_client_buffer_bytes`,
    /// `max_buffered_packets`) is disconnected.
    pub fn push(&self, frames: &[Frame], volatile: bool) -> Push {
        self.push_since(frames, volatile, None)
    }

    /// [`Session::push`] for frames whose wait began `since` (a broadcast's
    /// emit on this node, or its arrival from the broker), which the wait
    /// metric then counts from.
    pub fn push_since(
        &self,
        frames: &[Frame],
        volatile: bool,
        since: Option<std::time::Instant>,
    ) -> Push {
        let config = &self.engine.config;
        let waker = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return Push::Closed;
            }
            if state.overflowed {
                return Push::Overflow;
            }
            if volatile && !state.writable() {
                crate::metrics::HOT.volatile_dropped.increment(1);
                return Push::DroppedVolatile;
            }
            let cost = cost(frames);
            let held = state.queued_bytes + state.writing_bytes;
            // One packet always fits an empty queue, whatever its size.
            let over_bytes = held > 0 && held + cost > config.max_client_buffer_bytes;
            if over_bytes || state.frames.len() + frames.len() > config.max_buffered_packets {
                let queued = state.frames.len();
                state.overflowed = true;
                drop(state);
                crate::refused!(
                    crate::limits::Refused::ClientBuffer,
                    sid = %self.sid,
                    queued,
                    bytes = held,
                    "client is too slow: outgoing buffer full, disconnecting"
                );
                // Closing runs disconnect handlers, which may take locks the
                // caller (a broadcast) holds: close from a fresh task.
                if let Some(session) = self.upgrade() {
                    tokio::spawn(async move { session.close(CloseReason::OutgoingBufferFull) });
                }
                return Push::Overflow;
            }
            match (state.oldest, since) {
                (Some(oldest), Some(since)) if since < oldest => state.oldest = Some(since),
                (None, _) => {
                    state.oldest = Some(since.unwrap_or_else(std::time::Instant::now));
                }
                _ => {}
            }
            if state.frames.capacity() == 0 {
                // An idle session's queue takes what comes, not four frames'
                // room; a busy one grows as usual (its buffer is reused).
                state.frames.reserve_exact(frames.len());
            }
            state.frames.extend(frames.iter().cloned());
            state.queued_bytes += cost;
            let traffic = &self.engine.traffic;
            traffic.packets_sent.fetch_add(1, Ordering::Relaxed);
            traffic.bytes_sent.fetch_add(
                frames.iter().map(|f| f.len() as u64).sum(),
                Ordering::Relaxed,
            );
            state.consumer_waker()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Push::Queued
    }

    /// Bytes queued for the client or being written to it.
    pub fn buffered_bytes(&self) -> usize {
        let state = self.state.lock();
        state.queued_bytes + state.writing_bytes
    }
}
