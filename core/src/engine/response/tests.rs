//! Tests of the engine's answers: compression and Node's error bodies.

use super::*;

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
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
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
