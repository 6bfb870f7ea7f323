//! The write side of a connection: the session's queued frames encoded
//! into the write buffer (compressed when agreed, in v3's forms for v3
//! clients), and the probe's deadline.

use super::super::frame::{self, CLOSE_NORMAL, OP_TEXT};
use super::{Conn, Mode};
use crate::engine::EngineHandler;
use crate::engine::packet::FrameView;
use crate::engine::session::{Protocol, WsNext};
use crate::engine::v3;
use bytes::Bytes;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

impl<H: EngineHandler, IO: AsyncRead + AsyncWrite + Unpin> Conn<H, IO> {
    /// Takes frames from the session (or watches the probe); returns
    /// whether something was queued for writing. `written`: everything
    /// taken before is written (not held for coalescing).
    pub(super) fn poll_outgoing(&mut self, cx: &mut Context<'_>, written: bool) -> bool {
        match self.mode {
            Mode::Open => match self.session.poll_ws(cx, &mut self.batch, written) {
                Poll::Ready(WsNext::Frames) => {
                    let v3 = self.session.protocol() == Protocol::V3;
                    let deflate = self.link.deflate;
                    for f in self.batch.drain(..) {
                        let compressed = |b: &Bytes| {
                            deflate
                                .filter(|_| f.compressible())
                                .and_then(|d| super::super::deflate::compress(b, &d))
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
}
