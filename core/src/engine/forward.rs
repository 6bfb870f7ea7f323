//! Sessions without sticky load balancing: a session id names the node
//! that owns the session, and a node that gets a request for a session it
//! does not own forwards it to the owner — a polling request as a proxied
//! HTTP request, a WebSocket upgrade as a proxied upgrade whose bytes are
//! then relayed both ways. The client never sees which node answered.
//!
//! A [`SessionRouter`](super::SessionRouter) (the cluster) knows this
//! node's tag and where the other nodes listen. A request for a session
//! whose owner is unknown or gone gets the protocol's 400 "Session ID
//! unknown" at once, and the client reconnects. A forwarded request is marked so that it is never
//! forwarded twice.

use super::config::EngineConfig;
use super::request::BoxError;
use super::response::ResponseBody;
use super::router::FORWARDED_HEADER;
use super::ws::is_upgrade_request;
use crate::slot::ConnectionSlot;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long reaching the owner may take before the request fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("cannot reach the owner at {0}: {1}")]
    Connect(String, String),
    #[error("the owner failed: {0}")]
    Upstream(String),
    #[error("the request body: {0}")]
    Body(String),
}

/// A connection to an owner: plain TCP, or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Connects to `owner`: `host:port` in plain TCP, `https://host:port`
/// over TLS (the certificate checked against `config.forward_tls`).
async fn connect(owner: &str, config: &EngineConfig) -> Result<Box<dyn Io>, ForwardError> {
    let failed = |e: String| ForwardError::Connect(owner.to_owned(), e);
    let (secure, address) = match owner.strip_prefix("https://") {
        Some(address) => (true, address),
        None => (false, owner.strip_prefix("http://").unwrap_or(owner)),
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    if !secure {
        return Ok(Box::new(stream));
    }
    #[cfg(feature = "tls")]
    {
        let Some(client) = &config.forward_tls else {
            return Err(failed(
                "no TLS client settings to reach an https:// node".into(),
            ));
        };
        let host = address
            .rsplit_once(':')
            .map_or(address, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| failed(e.to_string()))?;
        let tls = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_rustls::TlsConnector::from(client.clone()).connect(name, stream),
        )
        .await
        .map_err(|_| failed("TLS handshake timed out".into()))?
        .map_err(|e| failed(e.to_string()))?;
        Ok(Box::new(tls))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = config;
        Err(failed("built without TLS".into()))
    }
}

/// Sends `req` to the owner at `owner` and returns its answer; a WebSocket
/// upgrade is relayed for as long as it lasts.
pub(crate) async fn forward<B>(
    mut req: Request<B>,
    owner: &str,
    config: &EngineConfig,
) -> Result<Response<ResponseBody>, ForwardError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let client_upgrade = is_upgrade_request(req.headers()).then(|| hyper::upgrade::on(&mut req));
    // A relayed WebSocket keeps its connection counted.
    let slot = req.extensions_mut().remove::<ConnectionSlot>();
    let (mut parts, body) = req.into_parts();
    let (body_limit, body_timeout) = (config.max_http_buffer_size, config.http.request_timeout);
    let body = tokio::time::timeout(body_timeout, Limited::new(body, body_limit).collect())
        .await
        .map_err(|_| ForwardError::Body("not received within the request timeout".into()))?
        .map_err(|e| ForwardError::Body(e.to_string()))?
        .to_bytes();
    parts
        .headers
        .insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    let stream = connect(owner, config).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ForwardError::Connect(owner.to_owned(), e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "forwarding connection ended");
        }
    });
    let mut response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| ForwardError::Upstream(e.to_string()))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let owner_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::try_join!(client_upgrade, owner_upgrade) {
                Ok((client, owner)) => {
                    let (mut client, mut owner) = (TokioIo::new(client), TokioIo::new(owner));
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut owner).await {
                        tracing::debug!(error = %e, "forwarded WebSocket ended");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "forwarded upgrade not completed"),
            }
        });
        let (parts, _) = response.into_parts();
        return Ok(Response::from_parts(parts, Full::new(Bytes::new())));
    }
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| ForwardError::Upstream(e.to_string()))?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
