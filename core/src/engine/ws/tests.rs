//! Tests of the WebSocket handshake headers.

use super::*;
use http::HeaderValue;

#[test]
fn computes_the_rfc_example_accept_key() {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONNECTION,
        HeaderValue::from_static("keep-alive, Upgrade"),
    );
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    h.insert(
        header::SEC_WEBSOCKET_KEY,
        HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
    );
    assert!(is_upgrade_request(&h));
    assert_eq!(accept_key(&h).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    h.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
    assert!(accept_key(&h).is_err());
}
