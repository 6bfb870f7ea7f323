//! Serving on a TCP port without a web framework: `io.listen(addr)`, or
//! `serve` for any tower service (with WebSocket upgrades), within the
//! limits of [`HttpLimits`]: connections, request head size and time.

use crate::engine::{HttpLimits, RemoteAddr};
use crate::limits::Refused;
use crate::server::SocketIo;
use crate::service::{BoxError, NotFound, SocketIoService};
use crate::slot::ConnectionSlot;
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_service::Service;

/// A running listener.
pub struct Listening {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    io: Option<SocketIo>,
}

impl Listening {
    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, then shuts the server down (sockets hear "server
    /// shutting down").
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(io) = self.io.take() {
            io.close().await;
        }
    }

    /// Waits until the listener stops (it runs until shut down).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl SocketIo {
    /// Binds `addr` and serves Socket.IO on it; other paths answer 404.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> io::Result<Listening> {
        self.listen_on(TcpListener::bind(addr).await?)
    }

    /// Serves on a listener bound beforehand (to know the port first).
    pub fn listen_on(&self, listener: TcpListener) -> io::Result<Listening> {
        let limits = self.engine_config().http;
        let service = SocketIoService::new(self.clone(), NotFound);
        let mut listening = serve_with(listener, service, limits)?;
        listening.io = Some(self.clone());
        Ok(listening)
    }
}

/// Reserve of open files kept for what is not a client connection.
const FILE_RESERVE: u64 = 256;

/// The connection limit `limits` asks for; 0 means the open-file limit
/// less a reserve.
pub fn connection_limit(limits: &HttpLimits) -> usize {
    if limits.max_connections > 0 {
        return limits.max_connections;
    }
    #[cfg(unix)]
    {
        if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE)
            && soft != rlimit::INFINITY
        {
            return usize::try_from(soft.saturating_sub(FILE_RESERVE).max(16))
                .unwrap_or(usize::MAX);
        }
    }
    usize::MAX
}

/// Refusals of connections over the limit being answered at once; past
/// this, others are closed without an answer.
const MAX_REFUSALS_IN_FLIGHT: usize = 1024;

const FULL_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 47\r\n\r\n{\"message\":\"Server is at its connection limit\"}";

/// Answers 503 to a connection over the limit, then closes it once the
/// client had a moment to read the answer.
fn refuse_connection(mut stream: TcpStream, peer: SocketAddr, in_flight: &Arc<AtomicUsize>) {
    crate::refused!(Refused::Connections, %peer, "connection limit reached: connection refused");
    if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSALS_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let in_flight = in_flight.clone();
    tokio::spawn(async move {
        let answer = async {
            stream.write_all(FULL_ANSWER).await?;
            stream.shutdown().await?;
            // Closing with unread input would reset the connection and
            // could discard the answer: drain a little first.
            let mut sink = [0u8; 4096];
            let mut left: usize = 64 * 1024;
            while left > 0 {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => left = left.saturating_sub(n),
                }
            }
            io::Result::Ok(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
        in_flight.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Serves a tower service over HTTP/1.1 with upgrades, adding each
/// request's [`RemoteAddr`], with the default [`HttpLimits`].
pub fn serve<S, RB>(listener: TcpListener, service: S) -> io::Result<Listening>
where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    serve_with(listener, service, HttpLimits::default())
}

/// Serves a tower service over HTTP/1.1 with upgrades, adding each
/// request's [`RemoteAddr`] and [`ConnectionSlot`], within `limits`.
pub fn serve_with<S, RB>(
    listener: TcpListener,
    service: S,
    limits: HttpLimits,
) -> io::Result<Listening>
where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    serve_inner(listener, service, limits, None)
}

/// [`serve_with`] over TLS (HTTPS, WSS): each connection's handshake must
/// end within the headers timeout; a client that does not speak TLS (plain
/// HTTP on this port) is refused and closed.
#[cfg(feature = "tls")]
pub fn serve_tls<S, RB>(
    listener: TcpListener,
    service: S,
    limits: HttpLimits,
    tls: crate::tls::Tls,
) -> io::Result<Listening>
where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    serve_inner(listener, service, limits, Some(tls))
}

#[cfg(not(feature = "tls"))]
type MaybeTls = Option<std::convert::Infallible>;
#[cfg(feature = "tls")]
type MaybeTls = Option<crate::tls::Tls>;

fn serve_inner<S, RB>(
    listener: TcpListener,
    service: S,
    limits: HttpLimits,
    tls: MaybeTls,
) -> io::Result<Listening>
where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    let local_addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let max_connections = connection_limit(&limits);
    let open = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if open.fetch_add(1, Ordering::AcqRel) >= max_connections {
                            open.fetch_sub(1, Ordering::AcqRel);
                            refuse_connection(stream, peer, &refusing);
                            continue;
                        }
                        let slot = ConnectionSlot::new(open.clone());
                        let _ = stream.set_nodelay(true);
                        match &tls {
                            None => {
                                tokio::spawn(serve_connection(stream, peer, service.clone(), slot, limits));
                            }
                            #[cfg(feature = "tls")]
                            Some(tls) => {
                                tokio::spawn(serve_tls_connection(stream, peer, service.clone(), slot, limits, tls.acceptor()));
                            }
                            #[cfg(not(feature = "tls"))]
                            Some(never) => match *never {},
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors, usually: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = &mut stopped => break,
            }
        }
    });
    Ok(Listening {
        local_addr,
        stop: Some(stop),
        task,
        io: None,
    })
}

#[cfg(feature = "tls")]
async fn serve_tls_connection<S, RB>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    slot: ConnectionSlot,
    limits: HttpLimits,
    acceptor: tokio_rustls::TlsAcceptor,
) where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    match tokio::time::timeout(limits.headers_timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_connection(stream, peer, service, slot, limits).await,
        Ok(Err(e)) => {
            crate::refused!(Refused::Malformed, %peer, error = %e, "TLS handshake failed (plain HTTP on a TLS port?): connection closed");
        }
        Err(_) => {
            crate::refused!(Refused::RequestTimeout, %peer, "no TLS handshake within the headers timeout: connection closed");
        }
    }
}

async fn serve_connection<S, RB, T>(
    stream: T,
    peer: SocketAddr,
    service: S,
    slot: ConnectionSlot,
    limits: HttpLimits,
) where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(RemoteAddr(peer));
        req.extensions_mut().insert(slot.clone());
        let mut service = service.clone();
        async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(req).await
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.headers_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(64 * 1024))
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        if e.is_parse_too_large() {
            crate::refused!(Refused::HeaderBytes, %peer, max = limits.max_header_bytes, "request head too large: answered 431");
        } else if e.is_timeout() {
            crate::refused!(Refused::RequestTimeout, %peer, "no request head within the headers timeout: connection closed");
        } else {
            tracing::debug!(%peer, error = %e, "http connection ended with an error");
        }
    }
}
