//! What the engine reads from a request: the client's address, the request
//! that opened a session, and the body type it accepts.

use super::query::query_param;
use bytes::Bytes;
use http::header::HeaderValue;
use http::{HeaderMap, Uri};
use smol_str::SmolStr;
use std::net::SocketAddr;
use std::time::SystemTime;

/// The error type of request bodies the engine accepts.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    /// Decoded query parameters, in order (short ones held inline: this
    /// is kept for every connected client).
    pub query: Vec<(SmolStr, SmolStr)>,
    /// The client's address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the session opened.
    pub issued: SystemTime,
}

impl RequestInfo {
    pub(crate) fn from_parts(parts: &http::request::Parts, query: Vec<(String, String)>) -> Self {
        let mut query: Vec<_> = query
            .into_iter()
            .map(|(k, v)| (SmolStr::from(k), SmolStr::from(v)))
            .collect();
        query.shrink_to_fit();
        let (uri, headers) = detach(&parts.uri, &parts.headers);
        RequestInfo {
            headers,
            uri,
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
        let query: usize = self.query.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        let uri = self.uri.path_and_query().map_or(0, |p| p.as_str().len())
            + self.uri.authority().map_or(0, |a| a.as_str().len());
        std::mem::size_of::<Self>() + headers + uri + query
    }
}

/// A copy of the URI and the headers that owns its bytes. hyper parses
/// header values as slices of the connection's read buffer (8 KB or more),
/// so keeping its values for a session's lifetime would keep that whole
/// buffer alive for every connected client. The copy keeps the URI and
/// every value in one buffer of their exact size, not one allocation each.
fn detach(uri: &Uri, headers: &HeaderMap) -> (Uri, HeaderMap) {
    let uri_text = uri.to_string();
    let size = uri_text.len() + headers.values().map(HeaderValue::len).sum::<usize>();
    let mut buffer = Vec::with_capacity(size);
    buffer.extend_from_slice(uri_text.as_bytes());
    for value in headers.values() {
        buffer.extend_from_slice(value.as_bytes());
    }
    let buffer = Bytes::from(buffer);
    let mut at = uri_text.len();
    let owned_uri = Uri::from_maybe_shared(buffer.slice(..at)).unwrap_or_else(|_| uri.clone());
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let bytes = buffer.slice(at..at + value.len());
        at += value.len();
        let mut copy = HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        out.append(name.clone(), copy);
    }
    (owned_uri, out)
}

#[cfg(test)]
mod tests;
