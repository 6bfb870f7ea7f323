//! What the engine reads from requests (query, client address) and the
//! shapes of its answers (payloads, Node's JSON errors, CORS headers).

use super::config::{CookieConfig, CorsConfig};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use http_body_util::Full;
use std::net::SocketAddr;
use std::time::SystemTime;

/// The body of every engine response.
pub type ResponseBody = Full<Bytes>;

/// The client's address, as a request extension. `listen` adds it; when
/// mounting the service elsewhere, insert it to fill `handshake.address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The HTTP request that opened a session.
#[derive(Debug)]
pub struct RequestInfo {
    /// Request headers.
    pub headers: HeaderMap,
    /// Request URI (path and query).
    pub uri: Uri,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The client's address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the session opened.
    pub issued: SystemTime,
}

impl RequestInfo {
    pub(crate) fn from_parts(parts: &http::request::Parts, query: Vec<(String, String)>) -> Self {
        RequestInfo {
            headers: detach_headers(&parts.headers),
            uri: detach_uri(&parts.uri),
            query,
            remote_addr: parts.extensions.get::<RemoteAddr>().map(|a| a.0),
            issued: SystemTime::now(),
        }
    }

    /// The first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        query_param(&self.query, name)
    }

    /// About how many bytes this request keeps in memory (for budgets).
    pub fn held_bytes(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 64)
            .sum();
        let query: usize = self
            .query
            .iter()
            .map(|(k, v)| k.capacity() + v.capacity() + 48)
            .sum();
        let uri = self.uri.path_and_query().map_or(0, |p| p.as_str().len())
            + self.uri.authority().map_or(0, |a| a.as_str().len());
        std::mem::size_of::<Self>() + headers + uri + query
    }
}

/// A copy of the headers that owns its values. hyper parses header values
/// as slices of the connection's read buffer (8 KB or more), so keeping its
/// values for a session's lifetime would keep that whole buffer alive for
/// every connected client.
fn detach_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        out.append(name.clone(), copy);
    }
    out
}

/// A copy of the URI that owns its bytes (see [`detach_headers`]).
fn detach_uri(uri: &Uri) -> Uri {
    Uri::from_maybe_shared(Bytes::from(uri.to_string())).unwrap_or_else(|_| uri.clone())
}

pub(crate) fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses `a=1&b=x%20y` (form encoding: `+` is a space).
pub(crate) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The protocol errors of Node's engine.io, with their codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EngineError {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl EngineError {
    pub fn message(self) -> &'static str {
        match self {
            EngineError::UnknownTransport => "Transport unknown",
            EngineError::UnknownSid => "Session ID unknown",
            EngineError::BadHandshakeMethod => "Bad handshake method",
            EngineError::BadRequest => "Bad request",
            EngineError::Forbidden => "Forbidden",
            EngineError::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

/// Builds responses with the CORS headers of the request's origin.
pub(crate) struct Responder<'a> {
    pub cors: Option<&'a CorsConfig>,
    pub origin: Option<&'a str>,
    /// How polling payloads are compressed for this client, if at all.
    pub compression: Option<(ContentEncoding, usize)>,
}

/// An HTTP content coding the server compresses polling payloads with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentEncoding {
    Gzip,
    Deflate,
}

impl ContentEncoding {
    /// What the client accepts (`Accept-Encoding`), gzip first, as Node's
    /// engine.io picks. A coding with `q=0` is refused.
    pub fn accepted(headers: &http::HeaderMap) -> Option<ContentEncoding> {
        let accepted = |name: &str| {
            headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|coding| {
                    let mut parts = coding.split(';').map(str::trim);
                    parts.next().is_some_and(|c| c.eq_ignore_ascii_case(name))
                        && !parts.any(|p| {
                            p.strip_prefix("q=")
                                .and_then(|q| q.parse::<f32>().ok())
                                .is_some_and(|q| q <= 0.0)
                        })
                })
        };
        if accepted("gzip") {
            Some(ContentEncoding::Gzip)
        } else if accepted("deflate") {
            Some(ContentEncoding::Deflate)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Deflate => "deflate",
        }
    }

    fn encode(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write as _;
        let level = flate2::Compression::default();
        let out = Vec::with_capacity(body.len() / 2);
        match self {
            ContentEncoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out, level);
                encoder.write_all(body)?;
                encoder.finish()
            }
            ContentEncoding::Deflate => {
                let mut encoder = flate2::write::ZlibEncoder::new(out, level);
                encoder.write_all(body)?;
                encoder.finish()
            }
        }
    }
}

impl Responder<'_> {
    fn builder(&self, status: StatusCode) -> http::response::Builder {
        let mut b = Response::builder().status(status);
        if let Some(cors) = self.cors {
            if let Some(origin) = cors.allow_origin(self.origin) {
                let value = if cors.origins.is_empty() && !cors.credentials {
                    "*"
                } else {
                    origin
                };
                b = b.header(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
                if cors.credentials {
                    b = b.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
                }
            }
            b = b.header(header::VARY, "Origin");
        }
        b
    }

    fn finish(b: http::response::Builder, body: Bytes) -> Response<ResponseBody> {
        b.body(Full::new(body)).unwrap_or_else(|_| {
            // Only reachable with an invalid header value; answer plainly.
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }

    /// Node's error answer: `{"code":N,"message":"..."}`.
    pub fn error(
        &self,
        error: EngineError,
        message: Option<&str>,
        status: Option<StatusCode>,
    ) -> Response<ResponseBody> {
        let status = status.unwrap_or(if error == EngineError::Forbidden {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        });
        let body = serde_json::json!({ "code": error as u8, "message": message.unwrap_or(error.message()) });
        Self::finish(
            self.builder(status)
                .header(header::CONTENT_TYPE, "application/json"),
            Bytes::from(body.to_string()),
        )
    }

    /// A bare status (413, or 400 for an overlapping request).
    pub fn status(&self, status: StatusCode) -> Response<ResponseBody> {
        Self::finish(self.builder(status), Bytes::new())
    }

    /// A polling payload.
    pub fn payload(
        &self,
        body: Bytes,
        binary: bool,
        cookie: Option<(&CookieConfig, &str)>,
    ) -> Response<ResponseBody> {
        let content_type = if binary {
            super::v3::BINARY_PAYLOAD
        } else {
            "text/plain; charset=UTF-8"
        };
        let mut b = self
            .builder(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CACHE_CONTROL, "no-store");
        let mut body = body;
        if let Some((encoding, threshold)) = self.compression
            && body.len() >= threshold
            && let Ok(compressed) = encoding.encode(&body)
        {
            body = Bytes::from(compressed);
            b = b
                .header(header::CONTENT_ENCODING, encoding.name())
                .header(header::VARY, "Accept-Encoding");
        }
        if let Some((cookie, sid)) = cookie {
            b = b.header(header::SET_COOKIE, cookie.header_value(sid));
        }
        Self::finish(b, body)
    }

    /// The answer to a polling POST.
    pub fn ok(&self) -> Response<ResponseBody> {
        Self::finish(
            self.builder(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/html")
                .header(header::CACHE_CONTROL, "no-store"),
            Bytes::from_static(b"ok"),
        )
    }

    /// The answer to a CORS preflight.
    pub fn preflight(&self, request_headers: Option<&HeaderValue>) -> Response<ResponseBody> {
        let mut b = self
            .builder(StatusCode::NO_CONTENT)
            .header(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET,HEAD,PUT,PATCH,POST,DELETE",
            )
            .header(header::CONTENT_LENGTH, "0");
        if let Some(h) = request_headers {
            b = b.header(header::ACCESS_CONTROL_ALLOW_HEADERS, h);
        }
        if let Some(age) = self.cors.and_then(|c| c.max_age) {
            b = b.header(header::ACCESS_CONTROL_MAX_AGE, age.as_secs().to_string());
        }
        Self::finish(b, Bytes::new())
    }

    /// A refused WebSocket handshake, as Node answers it (plain text).
    pub fn upgrade_refused(&self, message: &str) -> Response<ResponseBody> {
        Self::finish(
            self.builder(StatusCode::BAD_REQUEST)
                .header(header::CONNECTION, "close")
                .header(header::CONTENT_TYPE, "text/html"),
            Bytes::from(message.to_owned()),
        )
    }
}

/// Whether a request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_request_info_does_not_keep_the_read_buffer() {
        // As hyper does: values and the path are slices of one read buffer.
        let buffer = Bytes::from(b"GET /socket.io/?EIO=4 x-user: ada".to_vec());
        let mut parts = http::Request::builder()
            .uri(Uri::from_maybe_shared(buffer.slice(4..21)).unwrap())
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let mut value = HeaderValue::from_maybe_shared(buffer.slice(30..)).unwrap();
        value.set_sensitive(true);
        parts.headers.insert("x-user", value);
        let info = RequestInfo::from_parts(&parts, Vec::new());
        drop(parts);
        assert!(
            buffer.is_unique(),
            "the session still shares the read buffer"
        );
        assert_eq!(info.headers["x-user"], "ada");
        assert!(info.headers["x-user"].is_sensitive());
        assert_eq!(info.uri, "/socket.io/?EIO=4");
    }

    #[test]
    fn parses_queries_like_url_search_params() {
        let q = parse_query(Some(
            "EIO=4&transport=polling&t=N8hyd6w&name=a%20b+c&flag&bad=%zz&x=%e2%82%ac",
        ));
        assert_eq!(query_param(&q, "EIO"), Some("4"));
        assert_eq!(query_param(&q, "name"), Some("a b c"));
        assert_eq!(query_param(&q, "flag"), Some(""));
        assert_eq!(query_param(&q, "bad"), Some("%zz"));
        assert_eq!(query_param(&q, "x"), Some("€"));
        assert_eq!(query_param(&q, "missing"), None);
        assert!(parse_query(None).is_empty());
        assert_eq!(query_param(&parse_query(Some("a=%")), "a"), Some("%"));
        assert_eq!(query_param(&parse_query(Some("a=%4")), "a"), Some("%4"));
    }

    #[test]
    fn polling_payloads_are_compressed_as_the_client_accepts() {
        let headers = |value: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            h
        };
        let accepted = |value: &str| ContentEncoding::accepted(&headers(value));
        assert_eq!(accepted("gzip, deflate, br"), Some(ContentEncoding::Gzip));
        assert_eq!(accepted("deflate"), Some(ContentEncoding::Deflate));
        assert_eq!(
            accepted("gzip;q=0, deflate;q=0.5"),
            Some(ContentEncoding::Deflate)
        );
        assert_eq!(accepted("br, identity"), None);
        let r = Responder {
            cors: None,
            origin: None,
            compression: Some((ContentEncoding::Gzip, 1024)),
        };
        let big = Bytes::from("4hello".repeat(400));
        let res = r.payload(big.clone(), false, None);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        let body = body_bytes(res);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
            .unwrap();
        assert_eq!(text.as_bytes(), &big[..]);
        // Below the threshold: as it is.
        let res = r.payload(Bytes::from_static(b"4small"), false, None);
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(&body_bytes(res)[..], b"4small");
    }

    fn body_bytes(res: Response<ResponseBody>) -> Bytes {
        use http_body_util::BodyExt as _;
        let body = res.into_body();
        block_on(body.collect()).unwrap().to_bytes()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn errors_match_node_bodies() {
        let r = Responder {
            cors: None,
            origin: None,
            compression: None,
        };
        let res = r.error(EngineError::UnknownSid, None, None);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = r.error(EngineError::Forbidden, Some("nope"), None);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}
