//! WebSocket: handshake, errors, heartbeat, limits, and the upgrade from
//! polling.

use super::*;

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
    upgrade_with_a_packet_in_between(addr, &sid).await;
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
