//! The WebSocket transport: the HTTP upgrade handshake, and the connection
//! task that reads and writes frames for one session.

mod conn;
pub(crate) mod deflate;
mod direct;
pub(crate) mod frame;

pub(crate) use conn::{Mode, run};
pub(crate) use direct::{DirectWriter, Link, SharedTcp, Wrote, WsIo};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, header};
use sha1::{Digest, Sha1};

const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether the request asks to switch to WebSocket.
pub(crate) fn is_upgrade_request(headers: &HeaderMap) -> bool {
    header_has_token(headers, header::UPGRADE, "websocket")
}

/// Validates the handshake headers and returns the `Sec-WebSocket-Accept`
/// value, or why the handshake is refused.
pub(crate) fn accept_key(headers: &HeaderMap) -> Result<String, &'static str> {
    if !header_has_token(headers, header::CONNECTION, "upgrade") {
        return Err("missing Connection: upgrade");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err("unsupported Sec-WebSocket-Version");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("missing Sec-WebSocket-Key")?;
    if key.is_empty() {
        return Err("empty Sec-WebSocket-Key");
    }
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID);
    Ok(BASE64.encode(sha.finalize()))
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests;
