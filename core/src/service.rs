//! `SocketIoService`: the server as a `tower::Service`, to mount in axum,
//! hyper or any tower stack; requests outside the Socket.IO path go to an
//! inner service (404 by default).

use crate::engine::ResponseBody;
use crate::server::SocketIo;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower_service::Service;

/// The error type of request bodies the service accepts.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Answers every request with 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let mut res = Response::new(Full::new(Bytes::from_static(b"Not Found")));
        *res.status_mut() = StatusCode::NOT_FOUND;
        std::future::ready(Ok(res))
    }
}

/// The Socket.IO server as a service. Requests to its path (`/socket.io/`
/// by default) are served; others go to the inner service.
///
/// ```
/// # async fn mount() {
/// use switchyard_core::SocketIo;
/// let io = SocketIo::default();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .route_service("/socket.io/", io.service());
/// # let _ = app;
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIoService<S = NotFound> {
    io: SocketIo,
    inner: S,
}

impl<S> SocketIoService<S> {
    /// Serves Socket.IO in front of `inner`.
    pub fn new(io: SocketIo, inner: S) -> Self {
        SocketIoService { io, inner }
    }

    fn is_ours(&self, path: &str) -> bool {
        let own = self.io.engine_config().path.trim_end_matches('/');
        path.trim_end_matches('/') == own
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for SocketIoService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<ResponseBody, RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.is_ours(req.uri().path()) {
            let io = self.io.clone();
            return Box::pin(async move { Ok(io.engine().handle(req).await.map(Either::Left)) });
        }
        let mut inner = self.inner.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            Ok(inner.call(req).await?.map(Either::Right))
        })
    }
}

/// Wraps a service so Socket.IO requests are answered first.
#[derive(Clone)]
pub struct SocketIoLayer {
    io: SocketIo,
}

impl<S> tower_layer::Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> SocketIoService<S> {
        SocketIoService::new(self.io.clone(), inner)
    }
}

impl SocketIo {
    /// The server as a service; other paths answer 404.
    pub fn service(&self) -> SocketIoService {
        SocketIoService::new(self.clone(), NotFound)
    }

    /// A layer putting the server in front of another service.
    pub fn layer(&self) -> SocketIoLayer {
        SocketIoLayer { io: self.clone() }
    }
}
