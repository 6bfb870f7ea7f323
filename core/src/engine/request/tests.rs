//! Tests of what the engine keeps of a request.

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
