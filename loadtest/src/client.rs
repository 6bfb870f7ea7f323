//! A Socket.IO v5 client over WebSocket or HTTP long-polling, just what
//! the scenarios need: connect to a namespace, emit, wait for
//! acknowledgements, read events, answer pings. Optionally bound to a
//! chosen source address, so one machine can open more connections than
//! one address's port range.

use crate::polling::PollingLink;
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

/// Why a client failed.
#[derive(Debug)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn error(what: impl std::fmt::Display) -> ClientError {
    ClientError(what.to_string())
}

/// Where a server is: `http://host:port` (or `host:port`), and its path.
#[derive(Clone, Debug)]
pub struct Target {
    /// Host name for the Host header.
    pub host: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Socket.IO path.
    pub path: String,
}

impl Target {
    /// Parses and resolves a URL.
    pub async fn resolve(url: &str, path: &str) -> Result<Target, ClientError> {
        let rest = url
            .trim_start_matches("http://")
            .trim_start_matches("ws://");
        let authority = rest.split('/').next().unwrap_or(rest);
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(|e| error(format!("cannot resolve {authority}: {e}")))?
            .next()
            .ok_or_else(|| error(format!("no address for {authority}")))?;
        Ok(Target {
            host: authority.to_owned(),
            addr,
            path: path.to_owned(),
        })
    }
}

/// Which transport a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket from the start.
    WebSocket,
    /// HTTP long-polling only.
    Polling,
}

enum Link {
    Ws(Box<WebSocketStream<TcpStream>>),
    Polling(PollingLink),
}

/// One connected client.
pub struct Client {
    link: Link,
    next_ack: u64,
    /// The server's CONNECT reply (`40{"sid":…}`).
    reply: String,
}

/// What a client received.
pub enum Incoming {
    /// A text packet (Socket.IO packet with its Engine.IO `4`).
    Text(String),
    /// A binary frame.
    Binary,
    /// The server closed the connection.
    Closed,
}

impl Client {
    /// Connects and joins namespace `ns` (`/` by default), with an auth
    /// payload (JSON text) when given.
    pub async fn connect(
        target: &Target,
        source: Option<IpAddr>,
        transport: Transport,
        ns: &str,
        auth: Option<&str>,
    ) -> Result<Client, ClientError> {
        let (link, open) = match transport {
            Transport::WebSocket => {
                let mut ws = open_ws(target, source).await?;
                let open = match ws.next().await {
                    Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                    other => return Err(error(format!("no open packet: {other:?}"))),
                };
                (Link::Ws(Box::new(ws)), open)
            }
            Transport::Polling => {
                let (link, open) = PollingLink::open(target, source).await?;
                (Link::Polling(link), open)
            }
        };
        if !open.starts_with('0') {
            return Err(error(format!("expected an open packet, got {open:.40}")));
        }
        let mut client = Client {
            link,
            next_ack: 0,
            reply: String::new(),
        };
        let auth = auth.unwrap_or("");
        let connect = if ns == "/" {
            format!("40{auth}")
        } else {
            format!("40{ns},{auth}")
        };
        client.send(&connect).await?;
        let reply = client.text().await?;
        if !reply.starts_with("40") {
            return Err(error(format!("connection refused: {reply:.80}")));
        }
        client.reply = reply;
        Ok(client)
    }

    /// The server's CONNECT reply (`40{"sid":…,"pid":…}`).
    pub fn connect_reply(&self) -> &str {
        &self.reply
    }

    /// Sends a raw text packet.
    pub async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        match &mut self.link {
            Link::Ws(ws) => ws.send(Message::text(text)).await.map_err(error),
            Link::Polling(polling) => polling.send(text).await,
        }
    }

    /// Emits `42[...]` with the given JSON array body.
    pub async fn emit(&mut self, body: &str) -> Result<(), ClientError> {
        self.send(&format!("42{body}")).await
    }

    /// Emits with an ack id and waits for the ack (other events meanwhile
    /// are dropped); returns the ack's JSON array.
    pub async fn emit_with_ack(
        &mut self,
        body: &str,
        wait: Duration,
    ) -> Result<String, ClientError> {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(&format!("42{id}{body}")).await?;
        let prefix = format!("43{id}");
        tokio::time::timeout(wait, async {
            loop {
                let text = self.text().await?;
                if let Some(rest) = text.strip_prefix(&prefix) {
                    return Ok(rest.to_owned());
                }
                if text.starts_with("41") {
                    return Err(error("the server disconnected the socket"));
                }
            }
        })
        .await
        .map_err(|_| error("no acknowledgement in time"))?
    }

    /// The next packet; pings are answered on the way.
    pub async fn next(&mut self) -> Result<Incoming, ClientError> {
        let ws = match &mut self.link {
            Link::Ws(ws) => ws,
            Link::Polling(polling) => return Ok(polling.next().await),
        };
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" {
                        ws.send(Message::text("3")).await.map_err(error)?;
                        continue;
                    }
                    return Ok(Incoming::Text(t.as_str().to_owned()));
                }
                Some(Ok(Message::Binary(_))) => return Ok(Incoming::Binary),
                Some(Ok(Message::Close(_))) | None => return Ok(Incoming::Closed),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(error(e)),
            }
        }
    }

    async fn text(&mut self) -> Result<String, ClientError> {
        match self.next().await? {
            Incoming::Text(t) => Ok(t),
            Incoming::Binary => Err(error("unexpected binary frame")),
            Incoming::Closed => Err(error("connection closed")),
        }
    }

    /// Drops the connection without a close: a WebSocket's TCP connection
    /// is reset (RST), a polling session simply stops polling.
    pub fn reset(self) {
        if let Link::Ws(ws) = &self.link {
            let _ = ws.get_ref().set_zero_linger();
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self.link {
            Link::Ws(mut ws) => {
                let _ = (*ws).close(None).await;
            }
            Link::Polling(polling) => polling.close().await,
        }
    }
}

/// A WebSocket to the server, before the open packet.
async fn open_ws(
    target: &Target,
    source: Option<IpAddr>,
) -> Result<WebSocketStream<TcpStream>, ClientError> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(error)?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| error(format!("cannot bind {ip}: {e}")))?;
    }
    let stream = socket
        .connect(target.addr)
        .await
        .map_err(|e| error(format!("connect {}: {e}", target.addr)))?;
    stream.set_nodelay(true).map_err(error)?;
    let url = format!(
        "ws://{}{}?EIO=4&transport=websocket",
        target.host, target.path
    );
    // Small buffers: a load generator holds many thousands of these.
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 0;
    let (ws, _) = client_async_with_config(url, stream, Some(config))
        .await
        .map_err(error)?;
    Ok(ws)
}

/// The integer after `"key":` in a JSON text (fast path for event payloads).
pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: &str = text[at..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_from_event_text() {
        let text = r#"42["msg",{"t":123456,"s":42,"p":"xx"}]"#;
        assert_eq!(number_after(text, r#""t":"#), Some(123456));
        assert_eq!(number_after(text, r#""s":"#), Some(42));
        assert_eq!(number_after(text, r#""q":"#), None);
    }
}
