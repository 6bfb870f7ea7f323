//! The task of one WebSocket connection: one poll loop that reads frames,
//! writes the session's queued frames in batches, and handles the upgrade
//! probe. No timers of its own: the heartbeat is the engine's.
//!
//! Reads go into a per-thread scratch buffer, so an idle connection holds
//! no read buffer at all; only a partial frame is kept per connection.
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

use super::frame::{self, CLOSE_NORMAL, Decoder, OP_PONG, OP_TEXT, WsError, WsEvent};
use crate::engine::packet::{Frame, FrameView, Incoming, Message, PONG_PROBE, parse_text};
use crate::engine::session::{Protocol, Session, WsNext};
use crate::engine::v3;
use crate::engine::{CloseReason, EngineHandler};
use crate::limits::Refused;
use bytes::{Buf, Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// What the handshake settled for the connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    /// A v3 client that asked for base64 (`b64`) gets binary messages as
    /// `b4<base64>` text.
    pub takes_binary: bool,
    /// permessage-deflate, when agreed.
    pub deflate: Option<super::deflate::Agreed>,
}

/// How the connection starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The WebSocket is the session's transport.
    Open,
    /// The session is on polling; this WebSocket is probing an upgrade.
    Probe,
}

const SCRATCH_SIZE: usize = 16 * 1024;
/// Write buffers larger than this are released once written.
const KEEP_WRITE_BUFFER: usize = 16 * 1024;
/// Loop turns before yielding to other tasks.
const TURNS_PER_POLL: usize = 32;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_SIZE]);
}

/// Runs a WebSocket connection until it closes.
pub(crate) async fn run<H, IO>(
    io: IO,
    session: Arc<Session<H>>,
    mode: Mode,
    upgrade_timeout: Duration,
    link: Link,
) where
    H: EngineHandler,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let max_message = session.engine.config.max_http_buffer_size;
    let mut conn = Conn {
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
        events: Vec::new(),
        upgrade_deadline: (mode == Mode::Probe)
            .then(|| Box::pin(tokio::time::sleep(upgrade_timeout))),
        close_code: None,
        closing: false,
        done: false,
        hold: None,
        holding: false,
        pending_pong: None,
        linger: None,
    };
    std::future::poll_fn(|cx| conn.poll(cx)).await;
    conn.finish();
}

/// How long a closed connection may take to write its last bytes.
fn linger_time<H: EngineHandler>(session: &Session<H>) -> Duration {
    session.engine.config.ping_timeout
}

struct Conn<H: EngineHandler, IO> {
    io: IO,
    session: Arc<Session<H>>,
    mode: Mode,
    link: Link,
    decoder: Decoder,
    /// Bytes of a frame not yet complete.
    pending: BytesMut,
    /// Encoded frames not yet written.
    wbuf: BytesMut,
    batch: VecDeque<Frame>,
    events: Vec<WsEvent>,
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
    /// The payload of the last ping not answered yet.
    pending_pong: Option<Bytes>,
    /// Armed once the session is over while bytes are still unwritten: the
    /// connection is dropped when it fires.
    linger: Option<Pin<Box<Sleep>>>,
}

enum Read {
    Events,
    Eof,
}

impl<H: EngineHandler, IO: AsyncRead + AsyncWrite + Unpin> Conn<H, IO> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..TURNS_PER_POLL {
            if self.done {
                return Poll::Ready(());
            }
            if self
                .linger
                .as_mut()
                .is_some_and(|l| l.as_mut().poll(cx).is_ready())
            {
                tracing::debug!(sid = %self.session.sid(), "closed connection does not read: dropped");
                self.done = true;
                return Poll::Ready(());
            }
            let mut progress = false;

            // Write what is buffered, unless a coalescing hold is running.
            if self.holding && !self.closing {
                match self.hold.as_mut().map(|h| h.as_mut().poll(cx)) {
                    Some(Poll::Pending) => {}
                    _ => self.holding = false,
                }
            } else {
                self.holding = false;
            }
            while !self.holding && !self.wbuf.is_empty() {
                match Pin::new(&mut self.io).poll_write(cx, &self.wbuf) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        self.lost(CloseReason::TransportError);
                        return Poll::Ready(());
                    }
                    Poll::Ready(Ok(n)) => {
                        self.wbuf.advance(n);
                        progress = true;
                    }
                    Poll::Pending => break,
                }
            }
            if self.holding {
                // Gather what is queued meanwhile into the held buffer.
                if self.poll_outgoing(cx, false) {
                    continue;
                }
            } else if self.wbuf.is_empty() {
                if self.wbuf.capacity() > KEEP_WRITE_BUFFER {
                    self.wbuf = BytesMut::new();
                }
                if let Some(payload) = self.pending_pong.take()
                    && !self.closing
                {
                    frame::encode(&mut self.wbuf, OP_PONG, &payload);
                    continue;
                }
                if self.closing {
                    // Best effort: the peer may already be gone.
                    let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                    self.done = true;
                    return Poll::Ready(());
                }
                if self.poll_outgoing(cx, true) {
                    self.start_hold();
                    continue;
                }
            } else {
                // The peer does not take what it is sent: read nothing more
                // from it until it does (the write waker is registered).
                self.watch_while_blocked(cx);
                return Poll::Pending;
            }

            // Read what arrived.
            match self.poll_read(cx) {
                Poll::Ready(Ok(Read::Events)) => {
                    progress = true;
                    self.handle_events();
                }
                Poll::Ready(Ok(Read::Eof)) => {
                    self.lost(CloseReason::TransportClose);
                    return Poll::Ready(());
                }
                Poll::Ready(Err(ReadError::Io(e))) => {
                    tracing::debug!(sid = %self.session.sid(), error = %e, "websocket read failed");
                    self.lost(CloseReason::TransportError);
                    return Poll::Ready(());
                }
                Poll::Ready(Err(ReadError::Ws(e))) => {
                    let reason = match e {
                        WsError::TooBig(_) => Refused::MessageSize,
                        _ => Refused::Malformed,
                    };
                    crate::refused!(reason, sid = %self.session.sid(), error = %e, "closing websocket");
                    self.handle_events();
                    self.fail(e.close_code(), CloseReason::TransportError);
                    progress = true;
                }
                Poll::Pending => {}
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
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

    /// Takes frames from the session (or watches the probe); returns
    /// whether something was queued for writing. `written`: everything
    /// taken before is written (not held for coalescing).
    fn poll_outgoing(&mut self, cx: &mut Context<'_>, written: bool) -> bool {
        match self.mode {
            Mode::Open => match self.session.poll_ws(cx, &mut self.batch, written) {
                Poll::Ready(WsNext::Frames) => {
                    let v3 = self.session.protocol() == Protocol::V3;
                    let deflate = self.link.deflate;
                    for f in self.batch.drain(..) {
                        let compressed = |b: &Bytes| {
                            deflate
                                .filter(|_| f.compressible())
                                .and_then(|d| super::deflate::compress(b, &d))
                        };
                        match f.view() {
                            FrameView::Text(b) => match compressed(b) {
                                Some(z) => frame::encode_compressed(&mut self.wbuf, OP_TEXT, &z),
                                None => frame::encode(&mut self.wbuf, OP_TEXT, b),
                            },
                            FrameView::Binary(b) if !v3 => match compressed(b) {
                                Some(z) => {
                                    frame::encode_compressed(&mut self.wbuf, frame::OP_BINARY, &z);
                                }
                                None => frame::encode(&mut self.wbuf, frame::OP_BINARY, b),
                            },
                            // A v3 binary message carries its packet type first.
                            FrameView::Binary(b) if self.link.takes_binary => {
                                frame::encode_prefixed(
                                    &mut self.wbuf,
                                    frame::OP_BINARY,
                                    &[v3::MESSAGE],
                                    b,
                                )
                            }
                            FrameView::Binary(b) => {
                                let text = v3::base64_message(b);
                                frame::encode(&mut self.wbuf, OP_TEXT, text.as_bytes());
                            }
                        }
                    }
                    true
                }
                Poll::Ready(WsNext::Closed) => {
                    frame::encode_close(&mut self.wbuf, self.close_code.unwrap_or(CLOSE_NORMAL));
                    self.closing = true;
                    true
                }
                Poll::Pending => false,
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

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, ReadError>> {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.read_into(cx, &mut scratch),
            // Only if a handler polled another connection inline: use the heap.
            Err(_) => self.read_into(cx, &mut vec![0; SCRATCH_SIZE]),
        })
    }

    fn read_into(
        &mut self,
        cx: &mut Context<'_>,
        scratch: &mut [u8],
    ) -> Poll<Result<Read, ReadError>> {
        let mut buf = ReadBuf::new(scratch);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)).map_err(ReadError::Io)?;
        let data = buf.filled();
        if data.is_empty() {
            return Poll::Ready(Ok(Read::Eof));
        }
        let result = if self.pending.is_empty() {
            let used = decode_all(&mut self.decoder, data, &mut self.events);
            match used {
                Ok(used) => {
                    self.pending.extend_from_slice(&data[used..]);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            self.pending.extend_from_slice(data);
            decode_all(&mut self.decoder, &self.pending, &mut self.events)
                .map(|used| self.pending.advance(used))
        };
        if self.pending.is_empty() && self.pending.capacity() > SCRATCH_SIZE {
            self.pending = BytesMut::new();
        }
        Poll::Ready(result.map(|()| Read::Events).map_err(ReadError::Ws))
    }

    fn handle_events(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        for event in events.drain(..) {
            if self.closing || (self.mode == Mode::Open && self.session.closed_reason().is_some()) {
                break;
            }
            match event {
                // One pong waits at most: it answers the latest ping.
                WsEvent::Ping(payload) => self.pending_pong = Some(payload),
                WsEvent::Pong => {}
                WsEvent::Close(_) => match self.mode {
                    Mode::Open => self.session.close(CloseReason::TransportClose),
                    Mode::Probe => self.abandon_probe(),
                },
                WsEvent::Text(text) => match self.mode {
                    Mode::Open => match self.parse_text(&text) {
                        Ok(packet) => self.session.receive(packet),
                        Err(e) => {
                            crate::refused!(Refused::Malformed, sid = %self.session.sid(), error = %e, "invalid packet");
                            self.session.close(CloseReason::ParseError);
                        }
                    },
                    Mode::Probe => self.probe_packet(parse_text(&text).ok()),
                },
                WsEvent::Binary(data) => match (self.mode, self.session.protocol()) {
                    (Mode::Open, Protocol::V4) => self
                        .session
                        .receive(Incoming::Message(Message::Binary(data))),
                    (Mode::Open, Protocol::V3) => match v3::decode_binary_packet(data) {
                        Ok(packet) => self.session.receive(packet),
                        Err(e) => {
                            crate::refused!(Refused::Malformed, sid = %self.session.sid(), error = %e, "invalid packet");
                            self.session.close(CloseReason::ParseError);
                        }
                    },
                    (Mode::Probe, _) => self.abandon_probe(),
                },
            }
        }
        self.events = events;
    }

    /// A text frame's packet (v3 carries binary messages as `b4<base64>`).
    fn parse_text(&self, text: &str) -> Result<Incoming, String> {
        match self.session.protocol() {
            Protocol::V4 => parse_text(text).map_err(|e| e.to_string()),
            Protocol::V3 => v3::decode_text_packet(text).map_err(|e| e.to_string()),
        }
    }

    fn probe_packet(&mut self, packet: Option<Incoming>) {
        match packet {
            Some(Incoming::Ping { probe: true }) => {
                if let Frame::Text(b) = &PONG_PROBE {
                    frame::encode(&mut self.wbuf, OP_TEXT, b);
                }
                self.session.probed();
            }
            Some(Incoming::Upgrade) => {
                if self.session.complete_upgrade() {
                    tracing::debug!(sid = %self.session.sid(), "upgraded to websocket");
                    self.session.engine.handler.on_upgrade(&self.session);
                    self.mode = Mode::Open;
                    self.upgrade_deadline = None;
                    self.session.touch();
                } else {
                    self.abandon_probe();
                }
            }
            _ => self.abandon_probe(),
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

enum ReadError {
    Io(io::Error),
    Ws(WsError),
}

/// Decodes every complete frame of `input` into `events`; returns the bytes used.
fn decode_all(
    decoder: &mut Decoder,
    input: &[u8],
    events: &mut Vec<WsEvent>,
) -> Result<usize, WsError> {
    let mut used = 0;
    while let Some((event, n)) = decoder.decode(&input[used..])? {
        events.extend(event);
        used += n;
    }
    Ok(used)
}
