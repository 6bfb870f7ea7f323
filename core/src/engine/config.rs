//! Engine.IO settings, with Node.js engine.io's defaults.

use super::router::SessionRouter;
use super::ws::deflate::PerMessageDeflate;
use crate::limits::Rate;
use http::request::Parts;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Transport and heartbeat settings of the Engine.IO layer.
#[derive(Clone)]
pub struct EngineConfig {
    /// Path the server answers on. Default `/socket.io/`.
    pub path: String,
    /// Interval between server pings. Default 25 s.
    pub ping_interval: Duration,
    /// Time a client has to answer a ping. Default 20 s.
    pub ping_timeout: Duration,
    /// Time a client has to complete a transport upgrade. Default 10 s.
    pub upgrade_timeout: Duration,
    /// Largest message or polling body accepted, in bytes. Default 1 MB.
    pub max_http_buffer_size: usize,
    /// Enabled transports. Default both.
    pub transports: Transports,
    /// Whether polling clients may upgrade to WebSocket. Default true.
    pub allow_upgrades: bool,
    /// permessage-deflate (RFC 7692) for WebSocket clients that offer it,
    /// as Node's `perMessageDeflate`. Default off.
    pub per_message_deflate: Option<PerMessageDeflate>,
    /// gzip or deflate of polling responses for clients that accept it,
    /// as Node's `httpCompression`. Default on, above 1,024 bytes.
    pub http_compression: Option<HttpCompression>,
    /// Whether clients of Engine.IO protocol v3 (Socket.IO v2 clients) are
    /// served, as Node's `allowEIO3`. Default false: `EIO=3` is refused.
    pub allow_eio3: bool,
    /// Cross-origin requests. Default off (same origin only).
    pub cors: Option<CorsConfig>,
    /// The `io` cookie set on the handshake, for load balancers that stick
    /// on it. Default off.
    pub cookie: Option<CookieConfig>,
    /// A hook that can refuse a handshake. Default none.
    pub allow_request: Option<AllowRequest>,
    /// Most outgoing packets queued for one client. A client that falls
    /// this far behind is disconnected ("outgoing buffer full"). Default 10,000.
    pub max_buffered_packets: usize,
    /// Most bytes queued or being written for one client, every frame
    /// counted (pings included). Past it volatile packets are dropped, and a
    /// packet that does not fit disconnects the client ("outgoing buffer
    /// full"); one packet always fits an empty queue, whatever its size.
    /// Default 1 MiB, as Centrifugo's `client_queue_max_size`.
    pub max_client_buffer_bytes: usize,
    /// Limits of the HTTP server (`listen`/`serve`) and request bodies.
    pub http: HttpLimits,
    /// New sessions one client address may open, sustained and in a burst;
    /// past it the handshake is answered 429. Default: unlimited (behind a
    /// load balancer every client has its address).
    pub session_rate_per_address: Option<Rate>,
    /// Forwards requests for sessions of other nodes to their owner, so
    /// that load balancers need no sticky sessions. Default none.
    pub session_router: Option<Arc<dyn SessionRouter>>,
    /// Write coalescing: how long a WebSocket connection holds its first
    /// queued frame so that frames queued meanwhile go out in the same
    /// write. Fewer writes per message at high rates, at the price of up
    /// to this much latency; keep it well below `ping_timeout`, as pings
    /// are held too. Default zero: every batch is written at once.
    pub write_delay: Duration,
    /// Producers (broadcasts, emits, acks) write a packet to an idle
    /// WebSocket over plain TCP themselves instead of waking its
    /// connection task (`ws::direct`). On by default; off, every write
    /// goes through the connection task, as over TLS.
    pub direct_writes: bool,
    /// How requests are forwarded to owners whose advertised address is
    /// `https://…`: the certificates their certificates are checked
    /// against. Default none: such owners cannot be reached.
    #[cfg(feature = "tls")]
    pub forward_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            transports: Transports::default(),
            allow_upgrades: true,
            allow_eio3: false,
            per_message_deflate: None,
            http_compression: Some(HttpCompression::default()),
            cors: None,
            cookie: None,
            allow_request: None,
            max_buffered_packets: 10_000,
            max_client_buffer_bytes: 1024 * 1024,
            http: HttpLimits::default(),
            session_rate_per_address: None,
            session_router: None,
            write_delay: Duration::ZERO,
            direct_writes: true,
            #[cfg(feature = "tls")]
            forward_tls: None,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_http_buffer_size", &self.max_http_buffer_size)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("allow_eio3", &self.allow_eio3)
            .field("per_message_deflate", &self.per_message_deflate)
            .field("http_compression", &self.http_compression)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .field("allow_request", &self.allow_request.is_some())
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("max_client_buffer_bytes", &self.max_client_buffer_bytes)
            .field("http", &self.http)
            .field("session_rate_per_address", &self.session_rate_per_address)
            .field(
                "session_router",
                &self.session_router.as_ref().map(|r| r.tag().to_owned()),
            )
            .field("write_delay", &self.write_delay)
            .finish()
    }
}

/// Compression of polling responses (`EngineConfig::http_compression`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpCompression {
    /// Responses smaller than this go uncompressed. Default 1,024 bytes,
    /// as Node's `httpCompression.threshold`.
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

/// Limits of the HTTP server, with Node's defaults where it has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Most connections open at once (HTTP and WebSocket); more are
    /// answered 503 and closed. 0: the process's open-file limit less a
    /// reserve of 256 for everything else (brokers, files). Default 0.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes; a larger
    /// one is answered 431. Default 16 KiB (Node's `maxHeaderSize`); at
    /// least 8 KiB.
    pub max_header_bytes: usize,
    /// Time a connection has to send a request head. Default 60 s (Node's
    /// `headersTimeout`).
    pub headers_timeout: Duration,
    /// Time a client has to send a whole request body. Default 300 s
    /// (Node's `requestTimeout`).
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 0,
            max_header_bytes: 16 * 1024,
            headers_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
        }
    }
}

/// Which transports a server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

impl Transports {
    /// Parses a list such as `polling,websocket`.
    pub fn parse(list: &str) -> Result<Transports, String> {
        let mut t = Transports {
            polling: false,
            websocket: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "polling" => t.polling = true,
                "websocket" => t.websocket = true,
                other => {
                    return Err(format!(
                        "unknown transport {other:?} (expected polling or websocket)"
                    ));
                }
            }
        }
        if !t.polling && !t.websocket {
            return Err("at least one transport is needed".into());
        }
        Ok(t)
    }
}

/// Cross-origin resource sharing for browsers on other origins.
#[derive(Clone, Debug, Default)]
pub struct CorsConfig {
    /// Allowed origins; empty means any origin.
    pub origins: Vec<String>,
    /// Whether credentials (cookies) may be sent.
    pub credentials: bool,
    /// How long browsers may cache a preflight answer.
    pub max_age: Option<Duration>,
}

impl CorsConfig {
    /// Any origin.
    pub fn any() -> Self {
        CorsConfig::default()
    }

    /// The origin to echo for a request from `origin`, if it is allowed.
    pub(crate) fn allow_origin<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        match origin {
            None => None,
            Some(o)
                if self.origins.is_empty() || self.origins.iter().any(|a| a == o || a == "*") =>
            {
                Some(o)
            }
            Some(_) => None,
        }
    }
}

/// The `io` cookie (Node's `cookie` option) that carries the session id.
#[derive(Clone, Debug)]
pub struct CookieConfig {
    /// Cookie name. Default `io`.
    pub name: String,
    /// Cookie path. Default `/`.
    pub path: String,
    /// `HttpOnly`. Default true.
    pub http_only: bool,
    /// `SameSite` value. Default `Lax`.
    pub same_site: SameSite,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            name: "io".into(),
            path: "/".into(),
            http_only: true,
            same_site: SameSite::Lax,
        }
    }
}

/// The `SameSite` attribute of a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`
    Strict,
    /// `SameSite=Lax`
    Lax,
    /// `SameSite=None`
    None,
}

impl CookieConfig {
    pub(crate) fn header_value(&self, sid: &str) -> String {
        let same_site = match self.same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        };
        let mut v = format!("{}={}; Path={}", self.name, sid, self.path);
        if self.http_only {
            v.push_str("; HttpOnly");
        }
        v.push_str("; SameSite=");
        v.push_str(same_site);
        v
    }
}

/// A refused handshake: HTTP status and message sent to the client.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// HTTP status. Node uses 403.
    pub status: http::StatusCode,
    /// Message in the JSON error body.
    pub message: String,
}

impl Refusal {
    /// A 403 refusal with this message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Refusal {
            status: http::StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

/// The future an [`AllowRequest`] hook returns.
pub type AllowFuture = Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send>>;

/// A hook called with each handshake request (not later requests of a
/// session); an `Err` refuses the connection.
#[derive(Clone)]
pub struct AllowRequest(pub(crate) Arc<dyn Fn(&Parts) -> AllowFuture + Send + Sync>);

impl AllowRequest {
    /// Wraps an async check.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refusal>> + Send + 'static,
    {
        AllowRequest(Arc::new(move |parts| Box::pin(f(parts))))
    }
}

#[cfg(test)]
mod tests;
