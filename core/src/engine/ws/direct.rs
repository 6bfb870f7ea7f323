//! Writes from the producing task. A WebSocket over plain TCP shares its
//! socket between its connection task and its session: a packet for a
//! session whose queue is empty and whose socket nobody is writing to is
//! encoded and written by the task that produced it (a broadcast, an emit,
//! an ack), without a wake and a poll of the connection task. What the
//! socket does not take at once is kept as raw bytes for the connection
//! task, which writes it before anything else (see `Session::push_since`).
//!
//! Who may write, decided under the session's lock: the producer, while
//! nothing is queued and the connection task holds nothing unwritten
//! (`ws_writing` clear); otherwise the connection task alone. TLS
//! connections, connections behind another server's upgrade (axum, hyper
//! with TLS) and servers with a write delay (coalescing) keep every write in
//! the connection task.

use super::frame::{self, OP_TEXT};
use crate::engine::packet::{Frame, FrameView};
use crate::engine::v3;
use bytes::{Buf, Bytes, BytesMut};
use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The per-thread write scratch buffer is released past this size.
const WRITE_SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static WRITE_SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `f` with this thread's write scratch buffer (empty), or a fresh
/// one if the scratch is in use further up the stack.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut BytesMut) -> R) -> R {
    WRITE_SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            let r = f(&mut scratch);
            scratch.clear();
            if scratch.capacity() > WRITE_SCRATCH_KEEP {
                *scratch = BytesMut::new();
            }
            r
        }
        Err(_) => f(&mut BytesMut::new()),
    })
}

/// Encodes one frame as WebSocket bytes into `out`: compressed when agreed,
/// in v3's forms for v3 clients.
pub(crate) fn encode_frame(out: &mut BytesMut, f: &Frame, link: &Link, v3: bool) {
    let compressed = |b: &Bytes| {
        link.deflate
            .filter(|_| f.compressible())
            .and_then(|d| super::deflate::compress(b, &d))
    };
    match f.view() {
        FrameView::Text(b) => match compressed(b) {
            Some(z) => frame::encode_compressed(out, OP_TEXT, &z),
            None => frame::encode(out, OP_TEXT, b),
        },
        FrameView::Binary(b) if !v3 => match compressed(b) {
            Some(z) => frame::encode_compressed(out, frame::OP_BINARY, &z),
            None => frame::encode(out, frame::OP_BINARY, b),
        },
        // A v3 binary message carries its packet type first.
        FrameView::Binary(b) if link.takes_binary => {
            frame::encode_prefixed(out, frame::OP_BINARY, &[v3::MESSAGE], b)
        }
        FrameView::Binary(b) => {
            let text = v3::base64_message(b);
            frame::encode(out, OP_TEXT, text.as_bytes());
        }
    }
}

/// What the handshake settled for the connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    /// A v3 client that asked for base64 (`b64`) gets binary messages as
    /// `b4<base64>` text.
    pub takes_binary: bool,
    /// permessage-deflate, when agreed.
    pub deflate: Option<super::deflate::Agreed>,
}

/// What a connection reads from and writes to.
pub(crate) trait WsIo: AsyncRead + AsyncWrite + Unpin {
    /// A writer producers may use beside the connection task, if this
    /// transport allows one.
    fn direct_writer(&self, _link: Link, _v3: bool) -> Option<DirectWriter> {
        None
    }
}

impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> WsIo for hyper_util::rt::TokioIo<T> {}

#[cfg(test)]
impl WsIo for tokio::io::DuplexStream {}

/// A plain TCP socket whose write half is shared by its connection task
/// and its session's direct writer; the bytes read past the HTTP upgrade
/// request come first. (Reads go through tokio's read half, which knows a
/// short read drained the socket and saves the `read` that would say so.)
pub(crate) struct SharedTcp {
    read: OwnedReadHalf,
    write: Arc<OwnedWriteHalf>,
    read_first: Bytes,
}

impl SharedTcp {
    /// `read_first`: what the HTTP server read beyond the upgrade request.
    pub(crate) fn new(stream: TcpStream, read_first: Bytes) -> Self {
        let (read, write) = stream.into_split();
        SharedTcp {
            read,
            write: Arc::new(write),
            read_first,
        }
    }
}

impl WsIo for SharedTcp {
    fn direct_writer(&self, link: Link, v3: bool) -> Option<DirectWriter> {
        Some(DirectWriter {
            write: self.write.clone(),
            link,
            v3,
            rest: Bytes::new(),
            broken: false,
        })
    }
}

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read_first.is_empty() {
            return Pin::new(&mut this.read).poll_read(cx, buf);
        }
        let n = this.read_first.len().min(buf.remaining());
        buf.put_slice(&this.read_first[..n]);
        this.read_first.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream: &TcpStream = (*self.write).as_ref();
        loop {
            ready!(stream.poll_write_ready(cx))?;
            match stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream: &TcpStream = (*self.write).as_ref();
        Poll::Ready(
            match socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write) {
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                result => result,
            },
        )
    }
}

/// What a direct write did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wrote {
    /// Every byte is written.
    All,
    /// Part is written; the rest waits in the writer for the connection
    /// task ([`DirectWriter::take_rest`]).
    Part,
    /// Nothing is written (the socket is full or failed): queue the frames.
    Nothing,
}

/// A session's writer beside its connection task (see the module).
pub(crate) struct DirectWriter {
    write: Arc<OwnedWriteHalf>,
    link: Link,
    v3: bool,
    /// Bytes of a frame the socket did not take, for the connection task.
    rest: Bytes,
    /// A write failed: leave the socket to the connection task, which
    /// sees the failure too and ends the session.
    broken: bool,
}

impl DirectWriter {
    /// Encodes `frames` and writes them without blocking. Only while the
    /// connection task writes nothing and holds nothing unwritten.
    pub(crate) fn write(&mut self, frames: &[Frame]) -> Wrote {
        if self.broken {
            return Wrote::Nothing;
        }
        with_scratch(|out| {
            for f in frames {
                encode_frame(out, f, &self.link, self.v3);
            }
            let mut written = 0;
            while written < out.len() {
                match self.write.try_write(&out[written..]) {
                    Ok(0) => break,
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.broken = e.kind() != io::ErrorKind::WouldBlock;
                        break;
                    }
                }
            }
            if written == out.len() {
                Wrote::All
            } else if written == 0 {
                Wrote::Nothing
            } else {
                self.rest = Bytes::copy_from_slice(&out[written..]);
                Wrote::Part
            }
        })
    }

    /// How many bytes a partial write left.
    pub(crate) fn unwritten(&self) -> usize {
        self.rest.len()
    }

    /// What a partial write left, to be written before anything else.
    pub(crate) fn take_rest(&mut self) -> Bytes {
        std::mem::take(&mut self.rest)
    }
}
