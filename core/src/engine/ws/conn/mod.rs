//! The task of one WebSocket connection: one poll loop that reads frames,
//! writes the session's queued frames in batches, and handles the upgrade
//! probe. No timers of its own: the heartbeat is the engine's.
//!
//! Reads go into a per-thread scratch buffer, so an idle connection holds
//! no read buffer at all; only a partial frame is kept per connection.
//! Writes are encoded into a per-thread scratch buffer too and written at
//! once: only what the peer did not take yet (or what a coalescing hold
//! keeps back) is copied into the connection's own write buffer.
//!
//! With a write delay (`EngineConfig::write_delay`), the first frames queued
//! on an empty write buffer start a hold; frames queued until it ends are
//! appended, and all of them go out in one write.
//!
//! Back-pressure: while the peer does not take what was written (the write
//! would block), nothing more is read from it, so a client that sends
//! requests and never reads the answers cannot make the node buffer them.
//! Answers to WebSocket pings are coalesced: one pong waits at most. A
//! connection whose session closed but whose last bytes cannot be written
//! is dropped after the ping timeout.

mod incoming;
mod outgoing;

use super::direct::{Link, WsIo};
use super::frame::{self, CLOSE_NORMAL, Decoder, OP_PONG};
use crate::engine::packet::Frame;
use crate::engine::session::Session;
use crate::engine::{CloseReason, EngineHandler};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// How the connection starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The WebSocket is the session's transport.
    Open,
    /// The session is on polling; this WebSocket is probing an upgrade.
    Probe,
}

/// Write buffers larger than this are released once written.
const KEEP_WRITE_BUFFER: usize = 16 * 1024;
/// Loop turns before yielding to other tasks.
const TURNS_PER_POLL: usize = 32;

/// A WebSocket connection, as a future that runs it until it closes.
///
/// A named future rather than an `async fn`: the connection is what a
/// client costs while idle, and an `async fn` would keep a second copy of
/// its arguments beside the state it moved them into.
pub(crate) fn run<H, IO>(
    io: IO,
    session: Arc<Session<H>>,
    mode: Mode,
    upgrade_timeout: Duration,
    link: Link,
) -> Conn<H, IO>
where
    H: EngineHandler,
    IO: WsIo,
{
    if mode == Mode::Open
        && let Some(direct) = session.direct_writer(&io)
    {
        session.attach_direct(direct);
    }
    let max_message = session.engine.config.max_http_buffer_size;
    Conn {
        io,
        session,
        mode,
        link,
        decoder: match link.deflate {
            Some(_) => Decoder::with_deflate(max_message),
            None => Decoder::new(max_message),
        },
        pending: BytesMut::new(),
        wbuf: BytesMut::new(),
        batch: VecDeque::new(),
        upgrade_deadline: (mode == Mode::Probe)
            .then(|| Box::pin(tokio::time::sleep(upgrade_timeout))),
        close_code: None,
        closing: false,
        done: false,
        hold: None,
        holding: false,
        pending_pong: None,
        linger: None,
        finished: false,
    }
}

impl<H: EngineHandler, IO: WsIo> Future for Conn<H, IO> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let conn = self.get_mut();
        if conn.finished {
            return Poll::Ready(());
        }
        let end = conn.turn(cx);
        if end.is_ready() {
            conn.finished = true;
            conn.finish();
        }
        end
    }
}

/// How long a closed connection may take to write its last bytes.
fn linger_time<H: EngineHandler>(session: &Session<H>) -> Duration {
    session.engine.config.ping_timeout
}

/// One WebSocket connection of a session (see [`run`]).
pub(crate) struct Conn<H: EngineHandler, IO> {
    io: IO,
    session: Arc<Session<H>>,
    mode: Mode,
    link: Link,
    decoder: Decoder,
    /// Bytes of a frame not yet complete.
    pending: BytesMut,
    /// Encoded frames not yet written: what the peer did not take at once,
    /// frames held for coalescing, control frames. Empty (unallocated)
    /// while idle.
    wbuf: BytesMut,
    /// Frames taken from the session, being encoded; its buffer goes back
    /// to the session when the queue is empty (see `Session::poll_ws`).
    batch: VecDeque<Frame>,
    upgrade_deadline: Option<Pin<Box<Sleep>>>,
    /// The close code to send, when closing for a framing error.
    close_code: Option<u16>,
    /// A close frame is in `wbuf`: end once it is written.
    closing: bool,
    /// The connection is over (peer gone or close written).
    done: bool,
    /// The coalescing timer, kept for reuse once created.
    hold: Option<Pin<Box<Sleep>>>,
    /// `wbuf` is held until `hold` fires.
    holding: bool,
    /// The payload of the last ping not answered yet (boxed: rare, and the
    /// connection is what an idle client costs).
    pending_pong: Option<Box<Bytes>>,
    /// Armed once the session is over while bytes are still unwritten: the
    /// connection is dropped when it fires.
    linger: Option<Pin<Box<Sleep>>>,
    /// `finish` ran: the future is complete.
    finished: bool,
}

/// What the write side leaves the rest of a loop turn to do.
enum Next {
    /// Read what arrived.
    Read,
    /// Start the next turn at once.
    Again,
    /// Return this from `poll`.
    Exit(Poll<()>),
}

impl<H: EngineHandler, IO: WsIo> Conn<H, IO> {
    /// Runs loop turns until there is nothing to do, or the connection is
    /// over.
    fn turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..TURNS_PER_POLL {
            if self.done {
                return Poll::Ready(());
            }
            if self.linger_expired(cx) {
                tracing::debug!(sid = %self.session.sid(), "closed connection does not read: dropped");
                self.done = true;
                return Poll::Ready(());
            }
            // Write what is buffered, unless a coalescing hold is running.
            let mut progress = match self.flush(cx) {
                Ok(wrote) => wrote,
                Err(end) => return end,
            };
            match self.refill(cx) {
                Next::Read => {}
                Next::Again => continue,
                Next::Exit(end) => return end,
            }
            // Read what arrived.
            match self.read_step(cx) {
                Ok(read) => progress |= read,
                Err(end) => return end,
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Whether the linger timer of a closed connection fired.
    #[inline]
    fn linger_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.linger
            .as_mut()
            .is_some_and(|l| l.as_mut().poll(cx).is_ready())
    }

    /// Writes what is buffered, unless a coalescing hold is running;
    /// returns whether anything was written, or `Err` with what `poll`
    /// returns once the peer is gone.
    #[inline]
    fn flush(&mut self, cx: &mut Context<'_>) -> Result<bool, Poll<()>> {
        if self.holding && !self.closing {
            match self.hold.as_mut().map(|h| h.as_mut().poll(cx)) {
                Some(Poll::Pending) => {}
                _ => self.holding = false,
            }
        } else {
            self.holding = false;
        }
        let mut wrote = false;
        while !self.holding && !self.wbuf.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.wbuf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.lost(CloseReason::TransportError);
                    return Err(Poll::Ready(()));
                }
                Poll::Ready(Ok(n)) => {
                    self.wbuf.advance(n);
                    wrote = true;
                }
                Poll::Pending => break,
            }
        }
        Ok(wrote)
    }

    /// Once written (or held): queues what comes next — a pong, the close,
    /// the session's frames — or waits for the peer to take what it was
    /// sent.
    #[inline]
    fn refill(&mut self, cx: &mut Context<'_>) -> Next {
        if self.holding {
            // Gather what is queued meanwhile into the held buffer.
            if self.poll_outgoing(cx, false) {
                return Next::Again;
            }
        } else if self.wbuf.is_empty() {
            if self.wbuf.capacity() > KEEP_WRITE_BUFFER {
                self.wbuf = BytesMut::new();
            }
            if let Some(payload) = self.pending_pong.take()
                && !self.closing
            {
                if self.mode == Mode::Open {
                    // Keeps producers from writing beside it (see `direct`).
                    self.session.claim_ws(&mut self.wbuf);
                }
                frame::encode(&mut self.wbuf, OP_PONG, &payload);
                return Next::Again;
            }
            if self.closing {
                // Best effort: the peer may already be gone.
                if Pin::new(&mut self.io).poll_shutdown(cx).is_pending() {
                    return Next::Exit(Poll::Pending);
                }
                self.done = true;
                return Next::Exit(Poll::Ready(()));
            }
            if self.poll_outgoing(cx, true) {
                self.start_hold();
                return Next::Again;
            }
        } else {
            // The peer does not take what it is sent: read nothing more
            // from it until it does (the write waker is registered).
            self.watch_while_blocked(cx);
            return Next::Exit(Poll::Pending);
        }
        Next::Read
    }

    /// Starts a coalescing hold on what was just queued, if configured.
    fn start_hold(&mut self) {
        let delay = self.session.engine.config.write_delay;
        if delay.is_zero() || self.closing || self.wbuf.is_empty() {
            return;
        }
        let deadline = tokio::time::Instant::now() + delay;
        match &mut self.hold {
            Some(hold) => hold.as_mut().reset(deadline),
            None => self.hold = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.holding = true;
    }

    /// While writes are blocked: arms the linger timer once the session is
    /// over, so a peer that never reads cannot keep the connection forever.
    fn watch_while_blocked(&mut self, cx: &mut Context<'_>) {
        if self.linger.is_some() {
            return;
        }
        let over = self.closing || (self.mode == Mode::Open && self.session.watch_close(cx));
        if over {
            let mut linger = Box::pin(tokio::time::sleep(linger_time(&self.session)));
            // Registers the timer with this task.
            let _ = linger.as_mut().poll(cx);
            self.linger = Some(linger);
        }
    }

    /// Ends a failed upgrade; the session goes on over polling.
    fn abandon_probe(&mut self) {
        self.session.abort_upgrade();
        frame::encode_close(&mut self.wbuf, CLOSE_NORMAL);
        self.closing = true;
    }

    /// A framing error: send `code`, close the session.
    fn fail(&mut self, code: u16, reason: CloseReason) {
        match self.mode {
            Mode::Open => {
                self.close_code = Some(code);
                self.session.close(reason);
            }
            Mode::Probe => {
                self.session.abort_upgrade();
                frame::encode_close(&mut self.wbuf, code);
                self.closing = true;
            }
        }
    }

    /// The connection is gone: nothing more can be written.
    fn lost(&mut self, reason: CloseReason) {
        self.done = true;
        match self.mode {
            Mode::Open => self.session.close(reason),
            Mode::Probe => self.session.abort_upgrade(),
        }
    }

    fn finish(&mut self) {
        if self.mode == Mode::Open && self.session.closed_reason().is_none() {
            self.session.close(CloseReason::TransportClose);
        }
    }
}

impl<H: EngineHandler, IO> Drop for Conn<H, IO> {
    fn drop(&mut self) {
        // The session must not keep the socket open once its task is gone.
        if self.mode == Mode::Open {
            self.session.detach_direct();
        }
    }
}

#[cfg(test)]
mod tests;
