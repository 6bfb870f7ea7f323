//! The Engine.IO v4 protocol, as the official test suite and Node's
//! engine.io define it: handshake, messages, heartbeat, close, upgrade and
//! every error answer. Runs against the bare engine (an echo server).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use http::{Method, StatusCode};
use std::time::Duration;
use switchyard_core::engine::{
    AllowRequest, CookieConfig, CorsConfig, EngineConfig, Refusal, Transports,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const P: &str = "/engine.io/";

async fn echo() -> std::net::SocketAddr {
    start_echo(suite_engine_config(P)).await.1
}

fn url(query: &str) -> String {
    format!("{P}?{query}")
}

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

#[tokio::test]
async fn websocket_handshake_echo_and_close() {
    let addr = echo().await;
    let (mut ws, open) = Ws::open(addr, P).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["pingInterval"], 300);
    ws.send("4hello").await;
    assert_eq!(ws.text().await, "4hello");
    ws.send_binary(&[1, 2, 3, 4]).await;
    assert_eq!(ws.binary().await, vec![1, 2, 3, 4]);
    // A 200 KB message crosses several reads and length forms.
    let big = format!("4{}", "z".repeat(200_000));
    ws.send(&big).await;
    assert_eq!(ws.text().await, big);
    ws.send("1").await;
    ws.closed().await;
}

#[tokio::test]
async fn websocket_errors_close_the_connection() {
    let addr = echo().await;
    for query in [
        "transport=websocket",
        "EIO=abc&transport=websocket",
        "EIO=4",
        "EIO=4&transport=abc",
    ] {
        assert!(
            Ws::connect(addr, &url(query)).await.is_err(),
            "{query} must be refused"
        );
    }
    let (mut ws, _) = Ws::open(addr, P).await;
    ws.send("abc").await;
    ws.closed().await;
}

#[tokio::test]
async fn websocket_heartbeat_and_timeout() {
    let addr = echo().await;
    let (mut ws, _) = Ws::open(addr, P).await;
    ws.auto_pong = false;
    for _ in 0..3 {
        assert_eq!(ws.text().await, "2");
        ws.send("3").await;
    }
    // Stop answering: the server gives up after the ping timeout.
    ws.closed().await;
}

#[tokio::test]
async fn first_packet_after_open_is_not_a_ping() {
    let addr = echo().await;
    let (mut ws, _) = Ws::open(addr, P).await;
    ws.auto_pong = false;
    ws.send("4first").await;
    assert_eq!(ws.text().await, "4first");
}

#[tokio::test]
async fn websocket_message_over_the_limit_closes() {
    let (_, addr) = start_echo(EngineConfig {
        max_http_buffer_size: 1000,
        ..suite_engine_config(P)
    })
    .await;
    let (mut ws, _) = Ws::open(addr, P).await;
    ws.send(&format!("4{}", "x".repeat(2000))).await;
    ws.closed().await;
}

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut ws = Ws::connect(addr, &url(&format!("EIO=4&transport=websocket&sid={sid}")))
        .await
        .unwrap();
    ws.send("2probe").await;
    assert_eq!(ws.text().await, "3probe");
    let poll = get(addr, &q).await;
    assert_eq!(
        (poll.status, poll.body.as_str()),
        (StatusCode::OK, "6"),
        "noop ends the pending poll"
    );
    ws.send("5").await;
    ws.send("4hello").await;
    assert_eq!(ws.text().await, "4hello");
    // After the upgrade, polling with this sid is refused...
    let poll = get(addr, &q).await;
    assert_eq!(poll.status, StatusCode::BAD_REQUEST);
    assert_eq!(poll.json()["code"], 3);
    // ...and so is a second WebSocket.
    let mut second = Ws::connect(addr, &url(&format!("EIO=4&transport=websocket&sid={sid}")))
        .await
        .unwrap();
    second.closed().await;
    ws.send("4still").await;
    assert_eq!(ws.text().await, "4still");
}

#[tokio::test]
async fn upgrade_releases_a_waiting_poll_and_keeps_queued_packets() {
    let addr = echo().await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let waiting = waiting_get(addr, &q).await;
    let mut ws = Ws::connect(addr, &url(&format!("EIO=4&transport=websocket&sid={sid}")))
        .await
        .unwrap();
    ws.send("2probe").await;
    assert_eq!(ws.text().await, "3probe");
    assert_eq!(waiting.await.unwrap().body, "6");
    // Sent over polling during the upgrade; echoed over the WebSocket after it.
    assert_eq!(post(addr, &q, "4during").await.body, "ok");
    ws.send("5").await;
    assert_eq!(ws.text().await, "4during");
}

#[tokio::test]
async fn an_unfinished_upgrade_times_out_and_polling_goes_on() {
    let (_, addr) = start_echo(EngineConfig {
        upgrade_timeout: Duration::from_millis(200),
        ..suite_engine_config(P)
    })
    .await;
    let sid = polling_session(addr, P).await;
    let q = url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut ws = Ws::connect(addr, &url(&format!("EIO=4&transport=websocket&sid={sid}")))
        .await
        .unwrap();
    ws.send("2probe").await;
    assert_eq!(ws.text().await, "3probe");
    ws.closed().await;
    assert_eq!(post(addr, &q, "4poll").await.body, "ok");
    let poll = get(addr, &q).await;
    assert!(poll.body.contains("4poll"), "{poll:?}");
}

#[tokio::test]
async fn websocket_only_and_polling_only_servers() {
    let ws_only = EngineConfig {
        transports: Transports {
            polling: false,
            websocket: true,
        },
        ..suite_engine_config(P)
    };
    let (_, addr) = start_echo(ws_only).await;
    assert_eq!(
        get(addr, &url("EIO=4&transport=polling")).await.json()["code"],
        0
    );
    let (mut ws, _) = Ws::open(addr, P).await;
    ws.send("4ok").await;
    assert_eq!(ws.text().await, "4ok");

    let polling_only = EngineConfig {
        transports: Transports {
            polling: true,
            websocket: false,
        },
        ..suite_engine_config(P)
    };
    let (_, addr) = start_echo(polling_only).await;
    let open = get(addr, &url("EIO=4&transport=polling")).await;
    assert!(open.body.contains(r#""upgrades":[]"#), "{}", open.body);
    assert!(
        Ws::connect(addr, &url("EIO=4&transport=websocket"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let config = EngineConfig {
        cors: Some(CorsConfig {
            origins: vec!["http://app.test".into()],
            credentials: true,
            max_age: None,
        }),
        ..suite_engine_config(P)
    };
    let (_, addr) = start_echo(config).await;
    let preflight = request(
        addr,
        Method::OPTIONS,
        &url("EIO=4&transport=polling"),
        "",
        &[
            ("origin", "http://app.test"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "http://app.test"
    );
    assert_eq!(
        preflight.headers["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(
        preflight.headers["access-control-allow-headers"],
        "content-type"
    );
    let allowed = request(
        addr,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://app.test")],
    )
    .await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "http://app.test"
    );
    let other = request(
        addr,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://evil.test")],
    )
    .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));

    let (_, any) = start_echo(EngineConfig {
        cors: Some(CorsConfig::any()),
        ..suite_engine_config(P)
    })
    .await;
    let answer = request(
        any,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://x.test")],
    )
    .await;
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn io_cookie_names_the_session() {
    let (_, addr) = start_echo(EngineConfig {
        cookie: Some(CookieConfig::default()),
        ..suite_engine_config(P)
    })
    .await;
    let answer = get(addr, &url("EIO=4&transport=polling")).await;
    let sid = serde_json::from_str::<serde_json::Value>(&answer.body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        answer.headers["set-cookie"],
        format!("io={sid}; Path=/; HttpOnly; SameSite=Lax")
    );
    let later = get(
        addr,
        &url(&format!("EIO=4&transport=polling&sid={sid}&t=1")),
    )
    .await;
    assert!(
        !later.headers.contains_key("set-cookie"),
        "only the handshake sets it"
    );
}

#[tokio::test]
async fn allow_request_can_refuse_with_status_and_message() {
    let allow = AllowRequest::new(|parts: &http::request::Parts| {
        let token = parts.uri.query().unwrap_or("").contains("token=good");
        let teapot = parts.uri.query().unwrap_or("").contains("teapot");
        async move {
            match (token, teapot) {
                (true, _) => Ok(()),
                (false, true) => Err(Refusal {
                    status: StatusCode::IM_A_TEAPOT,
                    message: "short and stout".into(),
                }),
                (false, false) => Err(Refusal::forbidden("bad token")),
            }
        }
    });
    let (_, addr) = start_echo(EngineConfig {
        allow_request: Some(allow),
        ..suite_engine_config(P)
    })
    .await;
    let refused = get(addr, &url("EIO=4&transport=polling")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body, r#"{"code":4,"message":"bad token"}"#);
    let teapot = get(addr, &url("EIO=4&transport=polling&teapot")).await;
    assert_eq!(teapot.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(
        get(addr, &url("EIO=4&transport=polling&token=good"))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        Ws::connect(addr, &url("EIO=4&transport=websocket"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sessions_are_independent() {
    // A misbehaving session does not disturb its neighbours.
    let addr = echo().await;
    let (mut good, _) = Ws::open(addr, P).await;
    let (mut bad, _) = Ws::open(addr, P).await;
    bad.send("x-not-a-packet").await;
    bad.closed().await;
    good.send("4still here").await;
    assert_eq!(good.text().await, "4still here");
}
