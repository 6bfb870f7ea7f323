//! The session's outgoing queue: producers push encoded frames, within the
//! client's budget; the transport takes them in order.

use super::{Push, Session, State, TransportKind};
use crate::engine::packet::Frame;
use crate::engine::ws::Wrote;
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
            let traffic = &self.engine.traffic;
            traffic.packets_sent.fetch_add(1, Ordering::Relaxed);
            traffic.bytes_sent.fetch_add(
                frames.iter().map(|f| f.len() as u64).sum(),
                Ordering::Relaxed,
            );
            match state.write_direct(frames) {
                None => state.queue(frames, cost, since),
                Some(wrote) => {
                    traffic
                        .packets_written_directly
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(since) = since {
                        crate::metrics::outgoing_wait(since.elapsed());
                    }
                    match wrote {
                        // The connection task writes the rest.
                        Wrote::Part => state.consumer_waker(),
                        _ => return Push::Queued,
                    }
                }
            }
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

impl State {
    /// Queues frames for the transport to take; returns its waker.
    #[inline]
    fn queue(
        &mut self,
        frames: &[Frame],
        cost: usize,
        since: Option<std::time::Instant>,
    ) -> Option<std::task::Waker> {
        match (self.oldest, since) {
            (Some(oldest), Some(since)) if since < oldest => self.oldest = Some(since),
            (None, _) => self.oldest = Some(since.unwrap_or_else(std::time::Instant::now)),
            _ => {}
        }
        if self.frames.capacity() == 0 {
            // An idle session's queue takes what comes, not four frames'
            // room; a busy one grows as usual (its buffer is reused).
            self.frames.reserve_exact(frames.len());
        }
        self.frames.extend(frames.iter().cloned());
        self.queued_bytes += cost;
        self.consumer_waker()
    }

    /// Writes `frames` from the producing task when the WebSocket's socket
    /// is free (nothing queued, nothing held by the connection task): what
    /// the direct writer did, or `None` if the frames are to be queued.
    #[inline]
    fn write_direct(&mut self, frames: &[Frame]) -> Option<Wrote> {
        if self.transport != TransportKind::WebSocket || self.ws_writing || !self.frames.is_empty()
        {
            return None;
        }
        let direct = self.direct.as_mut()?;
        match direct.write(frames) {
            Wrote::Nothing => None,
            Wrote::Failed => {
                self.direct = None;
                None
            }
            Wrote::All => Some(Wrote::All),
            Wrote::Part => {
                self.ws_writing = true;
                self.writing_bytes += direct.unwritten();
                Some(Wrote::Part)
            }
        }
    }
}
