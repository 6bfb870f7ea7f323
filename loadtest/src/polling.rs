//! An Engine.IO v4 long-polling link: a reader task that keeps one GET
//! waiting on the server and hands every packet over, and POSTs for what
//! the client sends — one at a time, as the protocol requires (pongs go
//! through the same lock).

use crate::client::{ClientError, Incoming, Target, error};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpSocket;
use tokio::sync::{Mutex, mpsc};

/// Packets received and not yet read; the reader waits past this.
const INCOMING: usize = 1024;

/// One keep-alive HTTP/1.1 connection, reopened when the server closes it.
struct Http {
    target: Target,
    source: Option<IpAddr>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Http {
    fn new(target: &Target, source: Option<IpAddr>) -> Http {
        Http {
            target: target.clone(),
            source,
            sender: None,
        }
    }

    async fn open(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ClientError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let socket = match self.target.addr {
                SocketAddr::V4(_) => TcpSocket::new_v4(),
                SocketAddr::V6(_) => TcpSocket::new_v6(),
            }
            .map_err(error)?;
            if let Some(ip) = self.source {
                socket
                    .bind(SocketAddr::new(ip, 0))
                    .map_err(|e| error(format!("cannot bind {ip}: {e}")))?;
            }
            let stream = socket
                .connect(self.target.addr)
                .await
                .map_err(|e| error(format!("connect {}: {e}", self.target.addr)))?;
            stream.set_nodelay(true).map_err(error)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(error)?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| error("no HTTP connection"))
    }

    async fn request(
        &mut self,
        method: Method,
        uri: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let host = self.target.host.clone();
        let sender = self.open().await?;
        sender.ready().await.map_err(error)?;
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, host)
            .header(http::header::CONTENT_TYPE, "text/plain;charset=UTF-8")
            .body(Full::new(body))
            .map_err(error)?;
        let response = sender.send_request(request).await.map_err(error)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(error)?
            .to_bytes();
        Ok((status, body))
    }
}

/// The sending half, shared with the reader (for pongs).
struct Poster {
    http: Http,
    uri: String,
}

impl Poster {
    async fn post(&mut self, text: &str) -> Result<(), ClientError> {
        let uri = self.uri.clone();
        let (status, body) = self
            .http
            .request(Method::POST, &uri, Bytes::copy_from_slice(text.as_bytes()))
            .await?;
        if status != StatusCode::OK {
            return Err(error(format!(
                "POST answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(())
    }
}

/// A polling session.
pub struct PollingLink {
    incoming: mpsc::Receiver<Incoming>,
    poster: Arc<Mutex<Poster>>,
    reader: tokio::task::JoinHandle<()>,
}

impl PollingLink {
    /// Opens a session: the handshake, then the reader. Returns the link
    /// and the open packet.
    pub async fn open(
        target: &Target,
        source: Option<IpAddr>,
    ) -> Result<(PollingLink, String), ClientError> {
        let mut reading = Http::new(target, source);
        let handshake = format!("{}?EIO=4&transport=polling", target.path);
        let (status, body) = reading
            .request(Method::GET, &handshake, Bytes::new())
            .await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status != StatusCode::OK {
            return Err(error(format!("handshake answered {status}: {text:.80}")));
        }
        let open = text.split('\u{1e}').next().unwrap_or_default().to_owned();
        let sid = open
            .split("\"sid\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| error(format!("no sid in {open:.80}")))?
            .to_owned();
        let uri = format!("{handshake}&sid={sid}");
        let poster = Arc::new(Mutex::new(Poster {
            http: Http::new(target, source),
            uri: uri.clone(),
        }));
        let (tx, incoming) = mpsc::channel(INCOMING);
        let reader = tokio::spawn(read(reading, uri, tx, poster.clone()));
        Ok((
            PollingLink {
                incoming,
                poster,
                reader,
            },
            open,
        ))
    }

    /// Sends one packet (a POST).
    pub async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        self.poster.lock().await.post(text).await
    }

    /// The next packet.
    pub async fn next(&mut self) -> Incoming {
        self.incoming.recv().await.unwrap_or(Incoming::Closed)
    }

    /// Closes the session (a close packet).
    pub async fn close(self) {
        let _ = self.poster.lock().await.post("1").await;
    }
}

/// A link dropped without a close stops polling: the server sees the
/// session go silent.
impl Drop for PollingLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Keeps a GET waiting; answers pings; hands over the rest.
async fn read(mut http: Http, uri: String, tx: mpsc::Sender<Incoming>, poster: Arc<Mutex<Poster>>) {
    loop {
        let body = match http.request(Method::GET, &uri, Bytes::new()).await {
            Ok((StatusCode::OK, body)) => body,
            _ => {
                let _ = tx.send(Incoming::Closed).await;
                return;
            }
        };
        let text = String::from_utf8_lossy(&body);
        for packet in text.split('\u{1e}') {
            match packet {
                "2" => {
                    if poster.lock().await.post("3").await.is_err() {
                        let _ = tx.send(Incoming::Closed).await;
                        return;
                    }
                }
                "1" => {
                    let _ = tx.send(Incoming::Closed).await;
                    return;
                }
                "6" | "" => {}
                other if other.starts_with('b') => {
                    if tx.send(Incoming::Binary).await.is_err() {
                        return;
                    }
                }
                other => {
                    if tx.send(Incoming::Text(other.to_owned())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
