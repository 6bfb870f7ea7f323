//! The reference server that the Engine.IO and Socket.IO protocol test
//! suites are pointed at.
//!
//! Listens on 127.0.0.1:3000 (or `PORT`) with pingInterval 300 ms,
//! pingTimeout 200 ms, maxPayload 1e6, connectTimeout 1000 ms and CORS for
//! any origin.
//!
//! - `/socket.io/`: on connection to `/` or `/custom`, emits `auth` with the
//!   handshake's auth payload; `message` is echoed back as `message-back`;
//!   `message-with-ack` is acknowledged with the same arguments.
//! - `/engine.io/`: the bare Engine.IO layer (same ping settings) echoing
//!   every message back, text and binary.
//!
//! `cargo run -p switchyard-core --example conformance`

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Either;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, Frame, Message, ResponseBody, Session,
};
use switchyard_core::{
    CorsConfig, Event, NotFound, ServerConfig, Socket, SocketIo, SocketIoService,
};

/// Echoes every Engine.IO message back to its sender.
struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, _: &Arc<Session<Self>>) {}

    fn on_message(&self, session: &Arc<Session<Self>>, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::Binary(data),
        };
        session.push(&[frame], false);
    }

    fn on_close(&self, _: &Arc<Session<Self>>, _: CloseReason) {}
}

/// Routes `/engine.io/` to the echo engine, anything else to 404.
#[derive(Clone)]
struct EngineRoute(Engine<Echo>);

impl tower_service::Service<Request<hyper::body::Incoming>> for EngineRoute {
    type Response = Response<Either<ResponseBody, http_body_util::Full<Bytes>>>;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let engine = self.0.clone();
        Box::pin(async move {
            if req.uri().path().trim_end_matches('/') == "/engine.io" {
                Ok(engine.handle(req).await.map(Either::Left))
            } else {
                let res = tower_service::Service::call(&mut NotFound, req).await?;
                Ok(res.map(Either::Right))
            }
        })
    }
}

fn engine_config(path: &str) -> EngineConfig {
    EngineConfig {
        path: path.into(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_http_buffer_size: 1_000_000,
        cors: Some(CorsConfig::any()),
        ..EngineConfig::default()
    }
}

async fn on_connection(socket: Socket) {
    let _ = socket.emit("auth", socket.auth());
    socket.on("message", |socket: Socket, event: Event| async move {
        let _ = socket.emit_args("message-back", event.args);
    });
    socket.on("message-with-ack", |_: Socket, event: Event| async move {
        let _ = event.ack_args(event.args.clone());
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let io = SocketIo::new(ServerConfig {
        engine: engine_config("/socket.io/"),
        connect_timeout: Duration::from_millis(1000),
        ..ServerConfig::default()
    });
    io.of("/").on_connection(on_connection);
    io.of("/custom").on_connection(on_connection);

    let echo = Engine::new(engine_config("/engine.io/"), Echo);
    let service = SocketIoService::new(io.clone(), EngineRoute(echo));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let listening = switchyard_core::serve(listener, service)?;
    eprintln!(
        "conformance server listening on http://{}",
        listening.local_addr()
    );
    listening.wait().await;
    Ok(())
}
