//! Long-polling: handshake, messages, malformed and oversized bodies,
//! duplicate and abandoned polls, heartbeat and close.

use super::*;

#[tokio::test]
async fn polling_handshake_sends_exactly_the_open_packet() {
    let addr = echo().await;
    let answer = get(addr, &url("EIO=4&transport=polling")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/plain; charset=UTF-8");
    assert!(answer.body.starts_with('0'));
    let open: serde_json::Value = serde_json::from_str(&answer.body[1..]).unwrap();
    let mut keys: Vec<_> = open.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(open["pingTimeout"], 200);
    assert_eq!(open["maxPayload"], 1_000_000);
    let sid = open["sid"].as_str().unwrap();
    assert!(
        sid.len() >= 20
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
}

#[tokio::test]
async fn handshake_errors_carry_node_codes() {
    let addr = echo().await;
    for (query, code) in [
        ("transport=polling", 5),
        ("EIO=abc&transport=polling", 5),
        ("EIO=3&transport=polling", 5),
        ("EIO=4", 0),
        ("EIO=4&transport=abc", 0),
        ("EIO=4&transport=polling&sid=unknown", 1),
    ] {
        let answer = get(addr, &url(query)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.headers["content-type"], "application/json");
        assert_eq!(answer.json()["code"], code, "{query}: {}", answer.body);
    }
    let unknown = get(addr, &url("EIO=4&transport=polling&sid=unknown")).await;
    assert_eq!(unknown.body, r#"{"code":1,"message":"Session ID unknown"}"#);
    for method in [Method::POST, Method::PUT] {
        let answer = request(addr, method, &url("EIO=4&transport=polling"), "", &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json()["code"], 2);
    }
    // A WebSocket transport without the upgrade is a bad request.
    let answer = get(addr, &url("EIO=4&transport=websocket")).await;
    assert_eq!(answer.json()["code"], 3);
}

#[tokio::test]
async fn polling_exchanges_text_and_binary_packets() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let pushed = post(addr, &q, "4hello").await;
    assert_eq!(
        (pushed.status, pushed.body.as_str()),
        (StatusCode::OK, "ok")
    );
    assert_eq!(get(addr, &q).await.body, "4hello");
    assert_eq!(
        post(addr, &q, "4test1\x1e4test2\x1e4test3").await.body,
        "ok"
    );
    assert_eq!(get(addr, &q).await.body, "4test1\x1e4test2\x1e4test3");
    assert_eq!(post(addr, &q, "4hello\x1ebAQIDBA==").await.body, "ok");
    assert_eq!(get(addr, &q).await.body, "4hello\x1ebAQIDBA==");
}

#[tokio::test]
async fn malformed_polling_bodies_close_the_session() {
    let addr = echo().await;
    for body in ["abc", "4ok\x1e", "b!!notbase64", "0{}", "2"] {
        let sid = polling_session(addr, P).await;
        let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
        assert_eq!(
            post(addr, &q, body).await.status,
            post_status(body),
            "{body:?}"
        );
        assert_eq!(
            get(addr, &q).await.status,
            StatusCode::BAD_REQUEST,
            "{body:?}: session must be gone"
        );
    }
}

/// A client ping ("2") is a heartbeat in the wrong direction: the session
/// closes but the request itself was well-formed.
fn post_status(body: &str) -> StatusCode {
    if body == "2" {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

#[tokio::test]
async fn invalid_utf8_body_is_refused() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let body: &[u8] = &[b'4', 0xff, 0xfe];
    let head = format!(
        "POST {q} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = stream;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut buf = vec![0; 256];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 400"));
    assert_eq!(get(addr, &q).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_polling_body_gets_413_and_closes() {
    let (_, addr) = start_echo(EngineConfig {
        max_http_buffer_size: 1000,
        ..suite_engine_config(P)
    })
    .await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let big = format!("4{}", "x".repeat(1000));
    assert_eq!(
        post(addr, &q, &big).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(get(addr, &q).await.status, StatusCode::BAD_REQUEST);
    // Chunked bodies without a length are limited while read.
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("POST {q} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..3 {
        let chunk = "y".repeat(500);
        let _ = stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await;
    }
    let mut buf = vec![0; 256];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn duplicate_poll_closes_the_session() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let first = waiting_get(addr, &q).await;
    let second = get(addr, &format!("{q}&t=burst")).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    let first = first.await.unwrap();
    assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(get(addr, &q).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn overlapping_post_closes_the_session() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    // A POST whose body never completes holds the data slot.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        format!("POST {q} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n4ab").as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        post(addr, &q, "4hello").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(get(addr, &q).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn abandoned_poll_closes_the_session() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {q} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        get(addr, &q).await.status,
        StatusCode::BAD_REQUEST,
        "poll connection closed prematurely"
    );
}

#[tokio::test]
async fn polling_heartbeat_pings_and_accepts_pongs() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let poll = get(addr, &q).await;
        assert_eq!((poll.status, poll.body.as_str()), (StatusCode::OK, "2"));
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "ping comes after the interval, not at once"
        );
        assert_eq!(post(addr, &q, "3").await.status, StatusCode::OK);
    }
}

/// The official suite's "closes the session upon ping timeout": no request
/// at all after the handshake, then, exactly pingInterval + pingTimeout
/// later, a GET gets 400. The deadline counts from the handshake, and a
/// request past it finds the session closed even if the timer task is late.
#[tokio::test]
async fn polling_session_times_out_without_pong() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    tokio::time::sleep(Duration::from_millis(300 + 200)).await;
    let poll = get(addr, &q).await;
    assert_eq!(poll.status, StatusCode::BAD_REQUEST, "{poll:?}");
}

#[tokio::test]
async fn client_close_packet_releases_the_poll_with_noop() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let pending = waiting_get(addr, &q).await;
    assert_eq!(post(addr, &q, "1").await.body, "ok");
    let released = pending.await.unwrap();
    assert_eq!(
        (released.status, released.body.as_str()),
        (StatusCode::OK, "6")
    );
    assert_eq!(get(addr, &q).await.status, StatusCode::BAD_REQUEST);
}
