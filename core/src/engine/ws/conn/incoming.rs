//! The read side of a connection: bytes into frames through a per-thread
//! scratch buffer, each frame into the session's packets or the probe's
//! steps as soon as it is decoded.

use super::super::direct::WsIo;
use super::super::frame::{self, OP_TEXT, WsError, WsEvent};
use super::{Conn, Mode};
use crate::engine::packet::{Frame, Incoming, Message, PONG_PROBE, parse_text};
use crate::engine::session::Protocol;
use crate::engine::v3;
use crate::engine::{CloseReason, EngineHandler};
use crate::limits::Refused;
use bytes::{Buf, BytesMut};
use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::ReadBuf;

const SCRATCH_SIZE: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_SIZE]);
}

enum Read {
    Events,
    Eof,
}

impl<H: EngineHandler, IO: WsIo> Conn<H, IO> {
    /// Reads what arrived and handles its frames; returns whether anything
    /// was read, or `Err` with what `poll` returns once the connection is
    /// over.
    #[inline]
    pub(super) fn read_step(&mut self, cx: &mut Context<'_>) -> Result<bool, Poll<()>> {
        match self.poll_read(cx) {
            Poll::Ready(Ok(Read::Events)) => Ok(true),
            Poll::Ready(Ok(Read::Eof)) => {
                self.lost(CloseReason::TransportClose);
                Err(Poll::Ready(()))
            }
            Poll::Ready(Err(ReadError::Io(e))) => {
                tracing::debug!(sid = %self.session.sid(), error = %e, "websocket read failed");
                self.lost(CloseReason::TransportError);
                Err(Poll::Ready(()))
            }
            Poll::Ready(Err(ReadError::Ws(e))) => {
                let reason = match e {
                    WsError::TooBig(_) => Refused::MessageSize,
                    _ => Refused::Malformed,
                };
                crate::refused!(reason, sid = %self.session.sid(), error = %e, "closing websocket");
                self.fail(e.close_code(), CloseReason::TransportError);
                Ok(true)
            }
            Poll::Pending => Ok(false),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, ReadError>> {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.read_into(cx, &mut scratch),
            // Only if a handler polled another connection inline: use the heap.
            Err(_) => self.read_into(cx, &mut vec![0; SCRATCH_SIZE]),
        })
    }

    /// Reads into `scratch` and handles every complete frame, in order, as
    /// it is decoded (no list of events is kept); a partial frame waits in
    /// `pending`.
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
            self.decode_all(data)
                .map(|used| self.pending.extend_from_slice(&data[used..]))
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(data);
            let result = self.decode_all(&pending).map(|used| pending.advance(used));
            self.pending = pending;
            result
        };
        if self.pending.is_empty() && self.pending.capacity() > SCRATCH_SIZE {
            self.pending = BytesMut::new();
        }
        Poll::Ready(result.map(|()| Read::Events).map_err(ReadError::Ws))
    }

    /// Decodes every complete frame of `input` and handles each; returns
    /// the bytes used. Frames after the session closed are decoded (a
    /// framing error still counts) but not handled.
    fn decode_all(&mut self, input: &[u8]) -> Result<usize, WsError> {
        let mut used = 0;
        while let Some((event, n)) = self.decoder.decode(&input[used..])? {
            if let Some(event) = event {
                self.handle_event(event);
            }
            used += n;
        }
        Ok(used)
    }

    fn handle_event(&mut self, event: WsEvent) {
        if self.closing || (self.mode == Mode::Open && self.session.closed_reason().is_some()) {
            return;
        }
        match event {
            // One pong waits at most: it answers the latest ping.
            WsEvent::Ping(payload) => self.pending_pong = Some(Box::new(payload)),
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
                let direct = self.session.direct_writer(&self.io);
                if self.session.complete_upgrade(direct, !self.wbuf.is_empty()) {
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
}

enum ReadError {
    Io(io::Error),
    Ws(WsError),
}
