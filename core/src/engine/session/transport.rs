//! The transports' side of a session: the polling GET and POST slots, the
//! upgrade from polling to WebSocket, and the WebSocket writer's hand-off.

use super::{PollAnswer, Session, TransportKind, Upgrade, WsNext};
use crate::engine::packet::{CLOSE, Frame};
use crate::engine::ws::{DirectWriter, WsIo};
use crate::engine::{CloseReason, EngineHandler};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::task::{Context, Poll};

impl<H: EngineHandler> Session<H> {
    // ---- polling ---------------------------------------------------------

    /// Claims the polling GET slot; `false` if another GET is pending.
    pub(crate) fn begin_get(&self) -> bool {
        let mut state = self.state.lock();
        !std::mem::replace(&mut state.get_active, true)
    }

    pub(crate) fn end_get(&self) {
        let mut state = self.state.lock();
        state.get_active = false;
        state.get_waker = None;
    }

    /// Claims the polling POST slot; `false` if another POST is pending.
    pub(crate) fn begin_post(&self) -> bool {
        let mut state = self.state.lock();
        !std::mem::replace(&mut state.post_active, true)
    }

    pub(crate) fn end_post(&self) {
        self.state.lock().post_active = false;
    }

    /// What a pending GET answers, once there is something to answer.
    pub(crate) fn poll_get(&self, cx: &mut Context<'_>) -> Poll<PollAnswer> {
        let mut state = self.state.lock();
        if let Some(reason) = state.closed {
            return Poll::Ready(match reason {
                // The client asked to close: release its poll with a noop.
                CloseReason::TransportClose => PollAnswer::Noop,
                _ => {
                    let mut frames: Vec<Frame> = state.frames.drain(..).collect();
                    state.queued_bytes = 0;
                    frames.push(CLOSE);
                    PollAnswer::Frames(frames)
                }
            });
        }
        if state.transport == TransportKind::WebSocket {
            return Poll::Ready(PollAnswer::Noop);
        }
        if !state.frames.is_empty() {
            state.queued_bytes = 0;
            state.record_wait();
            return Poll::Ready(PollAnswer::Frames(state.frames.drain(..).collect()));
        }
        if state.upgrade == Upgrade::Probed {
            return Poll::Ready(PollAnswer::Noop);
        }
        if !state
            .get_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.get_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    // ---- websocket -------------------------------------------------------

    /// Starts an upgrade; `false` if the session cannot upgrade now.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.state.lock();
        if state.closed.is_some()
            || state.transport != TransportKind::Polling
            || state.upgrade != Upgrade::Idle
        {
            return false;
        }
        state.upgrade = Upgrade::Probing;
        true
    }

    /// The probe was answered: release the pending poll with a noop.
    pub(crate) fn probed(&self) {
        let waker = {
            let mut state = self.state.lock();
            state.upgrade = Upgrade::Probed;
            state.get_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The client sent `5`: the WebSocket becomes the transport, with its
    /// direct writer if it has one. `busy`: the WebSocket task holds bytes
    /// not written yet.
    pub(crate) fn complete_upgrade(&self, direct: Option<DirectWriter>, busy: bool) -> bool {
        let waker = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return false;
            }
            state.transport = TransportKind::WebSocket;
            state.upgrade = Upgrade::Idle;
            state.ws_writing |= busy;
            state.direct = direct;
            state.get_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// The upgrade failed; the session stays on polling.
    pub(crate) fn abort_upgrade(&self) {
        let mut state = self.state.lock();
        if state.transport == TransportKind::Polling {
            state.upgrade = Upgrade::Idle;
        }
    }

    /// A writer for producers to write to this session's WebSocket `io`
    /// themselves (see `ws::direct`): when configured, with no write delay
    /// to coalesce in, and when the transport allows one.
    pub(crate) fn direct_writer(&self, io: &impl WsIo) -> Option<DirectWriter> {
        let config = &self.engine.config;
        (config.direct_writes && config.write_delay.is_zero())
            .then(|| io.direct_writer())
            .flatten()
    }

    /// Gives the WebSocket (just opened, holding nothing unwritten) a writer
    /// producers may use while the connection task writes nothing.
    pub(crate) fn attach_direct(&self, direct: DirectWriter) {
        self.state.lock().direct = Some(direct);
    }

    /// Takes the direct writer away (its connection is over).
    pub(crate) fn detach_direct(&self) {
        let direct = self.state.lock().direct.take();
        drop(direct);
    }

    /// The WebSocket task is about to write bytes of its own (a pong):
    /// producers stop writing beside it until its next `poll_ws`; what a
    /// producer's partial write left goes first into `raw`.
    pub(crate) fn claim_ws(&self, raw: &mut BytesMut) {
        let mut state = self.state.lock();
        state.ws_writing = true;
        if let Some(rest) = state.direct.as_mut().and_then(|d| d.take_rest()) {
            raw.extend_from_slice(&rest);
        }
    }

    /// Moves queued frames into `batch` for the WebSocket writer, after
    /// what a producer's partial write left (into `raw`, as wire bytes).
    /// `written`: the writer wrote everything it took before (otherwise it
    /// still holds it, coalescing, and what it takes now adds to it).
    pub(crate) fn poll_ws(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Frame>,
        written: bool,
        raw: &mut BytesMut,
    ) -> Poll<WsNext> {
        let mut state = self.state.lock();
        if written {
            state.ws_writing = false;
            state.writing_bytes = 0;
        }
        if let Some(rest) = state.direct.as_mut().and_then(|d| d.take_rest()) {
            raw.extend_from_slice(&rest);
            state.ws_writing = true;
            state.record_wait();
            std::mem::swap(&mut state.frames, batch);
            state.writing_bytes += rest.len() + std::mem::take(&mut state.queued_bytes);
            return Poll::Ready(WsNext::Frames);
        }
        if !state.frames.is_empty() {
            state.record_wait();
            std::mem::swap(&mut state.frames, batch);
            state.writing_bytes += std::mem::take(&mut state.queued_bytes);
            state.ws_writing = true;
            return Poll::Ready(WsNext::Frames);
        }
        if state.closed.is_some() {
            return Poll::Ready(WsNext::Closed);
        }
        // Nothing queued: the writer's (empty) buffer goes back to the queue
        // if the queue has none, so an idle session holds one, not two,
        // and the next packet is queued without allocating.
        if state.frames.capacity() == 0 && batch.is_empty() {
            std::mem::swap(&mut state.frames, batch);
        }
        if !state
            .ws_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.ws_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Whether the session is closed; if not, wakes the probing WebSocket
    /// task when it closes.
    pub(crate) fn watch_close(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return true;
        }
        state.ws_waker = Some(cx.waker().clone());
        false
    }

    /// The closing reason, if the session is closed.
    pub(crate) fn closed_reason(&self) -> Option<CloseReason> {
        self.state.lock().closed
    }
}
