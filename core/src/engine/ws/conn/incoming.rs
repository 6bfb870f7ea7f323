//! The read side of a connection: bytes into frames through a per-thread
//! scratch buffer, frames into the session's packets or the probe's steps.

use super::super::frame::{self, Decoder, OP_TEXT, WsError, WsEvent};
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
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const SCRATCH_SIZE: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_SIZE]);
}

enum Read {
    Events,
    Eof,
}

impl<H: EngineHandler, IO: AsyncRead + AsyncWrite + Unpin> Conn<H, IO> {
    /// Reads what arrived and handles its frames; returns whether anything
    /// was read, or `Err` with what `poll` returns once the connection is
    /// over.
    #[inline]
    pub(super) fn read_step(&mut self, cx: &mut Context<'_>) -> Result<bool, Poll<()>> {
        match self.poll_read(cx) {
            Poll::Ready(Ok(Read::Events)) => {
                self.handle_events();
                Ok(true)
            }
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
                self.handle_events();
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
