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
use std::io::Read as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

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
    fn direct_writer(&self) -> Option<DirectWriter> {
        None
    }
}

impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> WsIo for hyper_util::rt::TokioIo<T> {}

#[cfg(test)]
impl WsIo for tokio::io::DuplexStream {}

/// A plain TCP socket, shared by its connection task and its session's
/// direct writer, with how frames are encoded for it. One allocation: it
/// is part of what every idle client costs.
struct SharedSocket {
    stream: TcpStream,
    link: Link,
    v3: bool,
}

/// The connection task's side of a [`SharedSocket`]; the bytes read past
/// the HTTP upgrade request come first.
pub(crate) struct SharedTcp {
    socket: Arc<SharedSocket>,
    read_first: Bytes,
}

impl SharedTcp {
    /// `read_first`: what the HTTP server read beyond the upgrade request
    /// (copied: as a slice it would keep the server's whole read buffer).
    pub(crate) fn new(stream: TcpStream, read_first: Bytes, link: Link, v3: bool) -> Self {
        SharedTcp {
            socket: Arc::new(SharedSocket { stream, link, v3 }),
            read_first: match read_first.is_empty() {
                true => Bytes::new(),
                false => Bytes::copy_from_slice(&read_first),
            },
        }
    }

    /// One read into `buf`, as tokio's own `TcpStream` reads: a short read
    /// means the socket is drained, so its readiness is cleared at once
    /// (with the readiness seen before the read, so data arriving meanwhile
    /// is not missed) rather than learnt from one more `read`.
    fn read_once(&self, buf: &mut ReadBuf<'_>) -> Result<usize, io::Error> {
        let stream = &self.socket.stream;
        let unfilled = buf.initialize_unfilled();
        let capacity = unfilled.len();
        let mut read = 0;
        let result = stream.try_io(Interest::READABLE, || {
            let n = (&*socket2::SockRef::from(stream)).read(unfilled)?;
            read = n;
            if n > 0 && n < capacity {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && read > 0 => Ok(read),
            other => other,
        }
    }
}

impl WsIo for SharedTcp {
    fn direct_writer(&self) -> Option<DirectWriter> {
        Some(DirectWriter {
            socket: self.socket.clone(),
            rest: None,
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
        if !this.read_first.is_empty() {
            let n = this.read_first.len().min(buf.remaining());
            buf.put_slice(&this.read_first[..n]);
            this.read_first.advance(n);
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.socket.stream.poll_read_ready(cx))?;
            match this.read_once(buf) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = &self.socket.stream;
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
        let sock = socket2::SockRef::from(&self.socket.stream);
        Poll::Ready(match sock.shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            result => result,
        })
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
    /// Nothing is written (the socket is full): queue the frames.
    Nothing,
    /// The socket failed (what it took before the failure is lost with
    /// the connection): queue the frames, and write directly no more; the
    /// connection task meets the failure too and ends the session.
    Failed,
}

/// A session's writer beside its connection task (see the module).
pub(crate) struct DirectWriter {
    socket: Arc<SharedSocket>,
    /// Bytes of a frame the socket did not take, for the connection task
    /// (boxed: rare, and the writer sits in every session).
    rest: Option<Box<[u8]>>,
}

impl DirectWriter {
    /// Encodes `frames` and writes them without blocking. Only while the
    /// connection task writes nothing and holds nothing unwritten.
    pub(crate) fn write(&mut self, frames: &[Frame]) -> Wrote {
        let socket = &*self.socket;
        with_scratch(|out| {
            for f in frames {
                encode_frame(out, f, &socket.link, socket.v3);
            }
            let mut written = 0;
            while written < out.len() {
                match socket.stream.try_write(&out[written..]) {
                    Ok(0) => break,
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Wrote::Failed,
                }
            }
            if written == out.len() {
                Wrote::All
            } else if written == 0 {
                Wrote::Nothing
            } else {
                self.rest = Some(out[written..].into());
                Wrote::Part
            }
        })
    }

    /// How many bytes a partial write left.
    pub(crate) fn unwritten(&self) -> usize {
        self.rest.as_ref().map_or(0, |r| r.len())
    }

    /// What a partial write left, to be written before anything else.
    pub(crate) fn take_rest(&mut self) -> Option<Box<[u8]>> {
        self.rest.take()
    }
}
