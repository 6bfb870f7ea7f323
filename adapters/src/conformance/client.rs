//! A raw Socket.IO client over WebSocket, enough to watch deliveries.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a client waits for anything.
pub const WAIT: Duration = Duration::from_secs(10);

/// An event the client received.
#[derive(Debug, PartialEq)]
pub struct Received {
    /// Event name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Json>,
    /// The ack id, when the server waits for an answer.
    pub ack: Option<u64>,
}

/// A client connected to `/`.
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The socket id.
    pub sid: String,
    /// The private session id (connection state recovery on).
    pub pid: Option<String>,
}

impl TestClient {
    /// Connects to `/` with an auth payload (JSON text, may be empty).
    pub async fn connect(addr: SocketAddr, auth: &str) -> TestClient {
        let mut ws = send_connect(addr, auth).await;
        let connect = next_text(&mut ws).await;
        let reply = serde_json::from_str::<Json>(&connect[2..]).unwrap_or(Json::Null);
        let sid = reply["sid"].as_str().map(str::to_owned);
        TestClient {
            ws,
            sid: sid.unwrap_or_else(|| panic!("CONNECT answer, got {connect}")),
            pid: reply["pid"].as_str().map(str::to_owned),
        }
    }

    /// Opens a connection, sends a CONNECT with `auth` and closes at once,
    /// without waiting for the answer (a client that left again while the
    /// server was still working on its CONNECT).
    pub async fn connect_and_leave(addr: SocketAddr, auth: &str) {
        let mut ws = send_connect(addr, auth).await;
        let _ = ws.close(None).await;
    }

    /// The next event.
    pub async fn event(&mut self) -> Received {
        loop {
            let text = next_text(&mut self.ws).await;
            if text == "2" {
                let _ = self.ws.send(Message::text("3")).await;
                continue;
            }
            if let Some(event) = parse_event(&text) {
                return event;
            }
            // A binary event: placeholders stay in the arguments; the
            // attachment frames that follow are read and dropped.
            if let Some(rest) = text.strip_prefix("45") {
                let Some((count, body)) = rest.split_once('-') else {
                    continue;
                };
                for _ in 0..count.parse::<usize>().unwrap_or(0) {
                    next_frame(&mut self.ws).await;
                }
                if let Some(event) = parse_event(&format!("42{body}")) {
                    return event;
                }
            }
        }
    }

    /// The next event, which must be `name`; returns its arguments.
    pub async fn expect(&mut self, name: &str) -> Vec<Json> {
        let event = self.event().await;
        assert_eq!(event.name, name, "{event:?}");
        event.args
    }

    /// Fails if an event (other than a ping) arrives within `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) {
        if let Ok(event) = tokio::time::timeout(wait, self.event()).await {
            panic!("expected nothing, got {event:?}");
        }
    }

    /// Answers an event the server sent with an ack id.
    pub async fn ack(&mut self, id: u64, args: &str) {
        self.ws
            .send(Message::text(format!("43{id}{args}")))
            .await
            .expect("send ACK");
    }

    /// Sends a raw Engine.IO text frame.
    pub async fn send(&mut self, text: &str) {
        let _ = self.ws.send(Message::text(text)).await;
    }

    /// Whether the server closed the connection (waits for it).
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => {}
                Err(_) => return false,
            }
        }
    }
}

/// Opens a WebSocket to `/` and sends a CONNECT with `auth` (JSON text,
/// may be empty) once the open packet arrived.
async fn send_connect(addr: SocketAddr, auth: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    let open = next_text(&mut ws).await;
    assert!(open.starts_with('0'), "open packet, got {open}");
    ws.send(Message::text(format!("40{auth}")))
        .await
        .expect("send CONNECT");
    ws
}

async fn next_text(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> String {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the wait")
        {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(Message::Close(_))) | None => panic!("connection closed"),
            Some(Err(e)) => panic!("websocket error: {e}"),
            Some(Ok(_)) => {}
        }
    }
}

async fn next_frame(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Message {
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a frame within the wait")
    {
        Some(Ok(message)) => message,
        Some(Err(e)) => panic!("websocket error: {e}"),
        None => panic!("connection closed"),
    }
}

fn parse_event(text: &str) -> Option<Received> {
    let rest = text.strip_prefix("42")?;
    let bracket = rest.find('[')?;
    let ack = rest[..bracket].parse().ok();
    let mut items: Vec<Json> = serde_json::from_str(&rest[bracket..]).ok()?;
    if items.is_empty() {
        return None;
    }
    let name = items.remove(0).as_str()?.to_owned();
    Some(Received {
        name,
        args: items,
        ack,
    })
}
