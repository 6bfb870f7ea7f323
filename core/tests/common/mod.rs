//! Test harness: in-process servers on a free port, raw HTTP requests, and a
//! minimal WebSocket client that speaks Engine.IO frames.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, Frame, Message, Session,
};
use switchyard_core::{ServerConfig, SocketIo};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub const WAIT: Duration = Duration::from_secs(5);

/// Settings of the official protocol test suites.
pub fn suite_engine_config(path: &str) -> EngineConfig {
    EngineConfig {
        path: path.into(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..EngineConfig::default()
    }
}

/// A Socket.IO server on a free port.
pub async fn start_io(config: ServerConfig) -> (SocketIo, SocketAddr) {
    let io = SocketIo::new(config);
    let listening = io.listen("127.0.0.1:0").await.unwrap();
    let addr = listening.local_addr();
    // The listener runs until the test ends.
    tokio::spawn(listening.wait());
    (io, addr)
}

/// Echoes every message: the bare Engine.IO layer.
pub struct Echo;

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

/// An echo Engine.IO server on a free port, serving every path.
pub async fn start_echo(config: EngineConfig) -> (Engine<Echo>, SocketAddr) {
    let engine = Engine::new(config, Echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = engine.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let engine = served.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let engine = engine.clone();
                    async move { Ok::<_, std::convert::Infallible>(engine.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (engine, addr)
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    uri: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap();
    let res = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("answer in time")
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(addr: SocketAddr, uri: &str) -> Answer {
    request(addr, Method::GET, uri, "", &[]).await
}

pub async fn post(addr: SocketAddr, uri: &str, body: &str) -> Answer {
    request(addr, Method::POST, uri, body, &[]).await
}

/// Starts a GET that waits on the server; resolves once it is waiting.
pub async fn waiting_get(addr: SocketAddr, uri: &str) -> tokio::task::JoinHandle<Answer> {
    let uri = uri.to_owned();
    let task = tokio::spawn(async move { get(addr, &uri).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    task
}

/// Opens a polling session; returns its sid.
pub async fn polling_session(addr: SocketAddr, path: &str) -> String {
    let answer = get(addr, &format!("{path}?EIO=4&transport=polling")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let open: serde_json::Value = serde_json::from_str(&answer.body[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

/// A WebSocket client seeing Engine.IO frames.
pub struct Ws {
    inner: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    /// Answer pings automatically.
    pub auto_pong: bool,
}

/// A frame from the server.
#[derive(Debug, PartialEq)]
pub enum In {
    Text(String),
    Binary(Vec<u8>),
    Closed,
}

impl Ws {
    pub async fn connect(
        addr: SocketAddr,
        path_and_query: &str,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let req = format!("ws://{addr}{path_and_query}").into_client_request()?;
        let (inner, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Ws {
            inner,
            auto_pong: true,
        })
    }

    /// Connects a fresh WebSocket session and reads its open packet.
    pub async fn open(addr: SocketAddr, path: &str) -> (Ws, serde_json::Value) {
        let mut ws = Ws::connect(addr, &format!("{path}?EIO=4&transport=websocket"))
            .await
            .unwrap();
        let open = ws.text().await;
        assert!(open.starts_with('0'), "{open}");
        (ws, serde_json::from_str(&open[1..]).unwrap())
    }

    pub async fn send(&mut self, text: &str) {
        self.inner.send(WsMessage::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.inner
            .send(WsMessage::binary(data.to_vec()))
            .await
            .unwrap();
    }

    /// Sends a WebSocket ping (the server answers with a pong, which
    /// [`Ws::next`] skips).
    pub async fn ping(&mut self) {
        self.inner
            .send(WsMessage::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
    }

    /// Waits until the server ends the TCP connection, skipping frames.
    pub async fn ended(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.inner.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the server did not end the connection"),
            }
        }
    }

    /// Sends a frame, ignoring failures (the server may have closed).
    pub async fn try_send(&mut self, text: &str) {
        let _ = self.inner.send(WsMessage::text(text)).await;
    }

    /// The next frame (pings answered when `auto_pong`).
    pub async fn next(&mut self) -> In {
        loop {
            let msg = tokio::time::timeout(WAIT, self.inner.next())
                .await
                .expect("a frame in time");
            match msg {
                Some(Ok(WsMessage::Text(t))) => {
                    if self.auto_pong && t.as_str() == "2" {
                        let _ = self.inner.send(WsMessage::text("3")).await;
                        continue;
                    }
                    return In::Text(t.as_str().to_owned());
                }
                Some(Ok(WsMessage::Binary(b))) => return In::Binary(b.to_vec()),
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return In::Closed,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn text(&mut self) -> String {
        match self.next().await {
            In::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    pub async fn binary(&mut self) -> Vec<u8> {
        match self.next().await {
            In::Binary(b) => b,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// Waits until the server closes, skipping other frames.
    pub async fn closed(&mut self) {
        loop {
            if self.next().await == In::Closed {
                return;
            }
        }
    }

    /// Asserts nothing (but pings) arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        if let Ok(frame) = tokio::time::timeout(d, self.next()).await {
            panic!("expected silence, got {frame:?}");
        }
    }
}

/// A Socket.IO connection over WebSocket, joined to `/` (the `40` answered).
pub async fn sio_connect(addr: SocketAddr, auth: &str) -> (Ws, String) {
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(&format!("40{auth}")).await;
    let connect = ws.text().await;
    assert!(connect.starts_with("40{"), "{connect}");
    let sid = serde_json::from_str::<serde_json::Value>(&connect[2..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    (ws, sid)
}

/// Polls until `check` holds or the wait runs out.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "condition not reached in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
