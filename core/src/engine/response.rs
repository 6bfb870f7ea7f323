//! The shapes of the engine's answers: polling payloads (compressed when
//! the client accepts it), Node's JSON errors, CORS headers and preflights.

use super::config::{CookieConfig, CorsConfig};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;

/// The body of every engine response.
pub type ResponseBody = Full<Bytes>;

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
mod tests;
