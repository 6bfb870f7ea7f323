//! Serving on a TCP port without a web framework: `io.listen(addr)`, or
//! `serve` for any tower service (with WebSocket upgrades).

use crate::engine::RemoteAddr;
use crate::server::SocketIo;
use crate::service::{BoxError, NotFound, SocketIoService};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, ToSocketAddrs};
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
        let mut listening = serve(listener, SocketIoService::new(self.clone(), NotFound))?;
        listening.io = Some(self.clone());
        Ok(listening)
    }
}

/// Serves a tower service over HTTP/1.1 with upgrades, adding each
/// request's [`RemoteAddr`].
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
    let local_addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_connection(stream, peer, service.clone()));
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

async fn serve_connection<S, RB>(stream: tokio::net::TcpStream, peer: SocketAddr, service: S)
where
    S: Service<Request<Incoming>, Response = Response<RB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(RemoteAddr(peer));
        let mut service = service.clone();
        async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(req).await
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "http connection ended with an error");
    }
}
