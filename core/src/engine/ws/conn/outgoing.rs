//! The write side of a connection: the session's queued frames encoded
//! (compressed when agreed, in v3's forms for v3 clients) into a per-thread
//! scratch buffer and written at once, or into the connection's own buffer
//! while a write is pending or coalescing is on; and the probe's deadline.

use super::super::direct::{WsIo, encode_frame, with_scratch};
use super::super::frame::{self, CLOSE_NORMAL};
use super::{Conn, Mode};
use crate::engine::CloseReason;
use crate::engine::EngineHandler;
use crate::engine::session::{Protocol, WsNext};
use bytes::BytesMut;
use std::pin::Pin;
use std::task::{Context, Poll};

impl<H: EngineHandler, IO: WsIo> Conn<H, IO> {
    /// Takes frames from the session (or watches the probe); returns
    /// whether something was queued for writing. `written`: everything
    /// taken before is written (not held for coalescing).
    pub(super) fn poll_outgoing(&mut self, cx: &mut Context<'_>, written: bool) -> bool {
        match self.mode {
            Mode::Open => match self
                .session
                .poll_ws(cx, &mut self.batch, written, &mut self.wbuf)
            {
                Poll::Ready(WsNext::Frames) => {
                    self.write_batch(cx);
                    true
                }
                Poll::Ready(WsNext::Closed) => {
                    frame::encode_close(&mut self.wbuf, self.close_code.unwrap_or(CLOSE_NORMAL));
                    self.closing = true;
                    true
                }
                Poll::Pending => {
                    if self.writes_at_once() && self.wbuf.is_empty() {
                        // Idle: hold no write buffer.
                        self.wbuf = BytesMut::new();
                    }
                    false
                }
            },
            Mode::Probe => {
                let expired = self
                    .upgrade_deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    tracing::debug!(sid = %self.session.sid(), "client did not complete the upgrade in time");
                }
                if expired || self.session.watch_close(cx) {
                    self.abandon_probe();
                    return true;
                }
                false
            }
        }
    }

    /// Whether frames are written as soon as they are taken (no coalescing
    /// delay), from the per-thread scratch buffer.
    #[inline]
    fn writes_at_once(&self) -> bool {
        self.session.engine.config.write_delay.is_zero()
    }

    /// Encodes the batch taken from the session and, unless a write is
    /// pending or coalescing is on, writes it at once from the per-thread
    /// scratch buffer; what the peer does not take waits in `wbuf`.
    fn write_batch(&mut self, cx: &mut Context<'_>) {
        if !self.wbuf.is_empty() || !self.writes_at_once() {
            let mut wbuf = std::mem::take(&mut self.wbuf);
            self.encode_batch(&mut wbuf);
            self.wbuf = wbuf;
            return;
        }
        with_scratch(|scratch| {
            self.encode_batch(scratch);
            self.write_now(cx, scratch);
        });
    }

    /// Writes `bytes` as far as the peer takes them; the rest goes to `wbuf`.
    fn write_now(&mut self, cx: &mut Context<'_>, bytes: &[u8]) {
        let mut written = 0;
        while written < bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    // `done` is set: the next loop turn ends the connection.
                    self.lost(CloseReason::TransportError);
                    return;
                }
                Poll::Ready(Ok(n)) => written += n,
                Poll::Pending => break,
            }
        }
        self.wbuf.extend_from_slice(&bytes[written..]);
    }

    /// Encodes the taken frames into `out`: compressed when agreed, in v3's
    /// forms for v3 clients.
    fn encode_batch(&mut self, out: &mut BytesMut) {
        let v3 = self.session.protocol() == Protocol::V3;
        for f in self.batch.drain(..) {
            encode_frame(out, &f, &self.link, v3);
        }
    }
}
