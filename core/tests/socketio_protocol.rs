//! The Socket.IO v5 protocol, as the official test suite defines it, and
//! every malformed packet the server must refuse by closing the connection.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::Duration;
use switchyard_core::{ConnectError, Event, Parser, ServerConfig, Socket, SocketIo, Value, object};

mod mp {
    use switchyard_core::Value;
    pub fn encode(v: &Value) -> Vec<u8> {
        switchyard_core::value::to_msgpack(v)
    }
    pub fn decode(b: &[u8]) -> Value {
        switchyard_core::value::from_msgpack(&bytes::Bytes::copy_from_slice(b))
            .unwrap()
            .unwrap()
    }
}

fn conformance_config() -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        connect_timeout: Duration::from_millis(1000),
        ..ServerConfig::default()
    }
}

fn install_conformance_handlers(io: &SocketIo) {
    for ns in ["/", "/custom"] {
        io.of(ns).on_connection(|socket: Socket| async move {
            let _ = socket.emit("auth", socket.auth());
            socket.on("message", |socket: Socket, event: Event| async move {
                let _ = socket.emit_args("message-back", event.args);
            });
            socket.on("message-with-ack", |_: Socket, event: Event| async move {
                let _ = event.ack_args(event.args.clone());
            });
        });
    }
    io.of("/guarded")
        .use_middleware(|socket: Socket| async move {
            match socket.auth().get("token").and_then(Value::as_str) {
                Some("ok") => Ok(()),
                _ => {
                    Err(ConnectError::new("not authorized")
                        .with_data(object! { "reason" => "token" }))
                }
            }
        });
    io.of("/guarded")
        .on_connection(|socket: Socket| async move {
            let _ = socket.emit("welcome", &());
        });
}

async fn server(parser: Parser) -> std::net::SocketAddr {
    let (io, addr) = start_io(ServerConfig {
        parser,
        ..conformance_config()
    })
    .await;
    install_conformance_handlers(&io);
    addr
}

async fn connected() -> Ws {
    let addr = server(Parser::Json).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40").await;
    ws.text().await;
    assert_eq!(ws.text().await, r#"42["auth",{}]"#);
    ws
}

#[tokio::test]
async fn connects_to_main_namespace_with_and_without_auth() {
    let addr = server(Parser::Json).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40").await;
    let connect = ws.text().await;
    assert!(connect.starts_with("40"), "{connect}");
    let handshake: serde_json::Value = serde_json::from_str(&connect[2..]).unwrap();
    assert_eq!(
        handshake.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sid"]
    );
    assert_eq!(ws.text().await, r#"42["auth",{}]"#);

    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(r#"40{"token":"123"}"#).await;
    assert!(ws.text().await.starts_with("40{"));
    assert_eq!(ws.text().await, r#"42["auth",{"token":"123"}]"#);
}

#[tokio::test]
async fn connects_to_custom_namespaces() {
    let addr = server(Parser::Json).await;
    for (connect, auth) in [
        ("40/custom,", "{}"),
        ("40/custom", "{}"),
        (r#"40/custom,{"token":"abc"}"#, r#"{"token":"abc"}"#),
    ] {
        let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
        ws.send(connect).await;
        let reply = ws.text().await;
        assert!(reply.starts_with("40/custom,{\"sid\":"), "{reply}");
        assert_eq!(ws.text().await, format!(r#"42/custom,["auth",{auth}]"#));
    }
}

#[tokio::test]
async fn unknown_namespace_gets_connect_error() {
    let addr = server(Parser::Json).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send("40/random").await;
    assert_eq!(
        ws.text().await,
        r#"44/random,{"message":"Invalid namespace"}"#
    );
    // The connection stays usable.
    ws.send("40").await;
    assert!(ws.text().await.starts_with("40{"));
}

#[tokio::test]
async fn middleware_refusal_is_a_connect_error_with_data() {
    let addr = server(Parser::Json).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send(r#"40/guarded,{"token":"bad"}"#).await;
    assert_eq!(
        ws.text().await,
        r#"44/guarded,{"message":"not authorized","data":{"reason":"token"}}"#
    );
    ws.send(r#"40/guarded,{"token":"ok"}"#).await;
    assert!(ws.text().await.starts_with("40/guarded,{\"sid\":"));
    assert_eq!(ws.text().await, "42/guarded,[\"welcome\",null]");
}

#[tokio::test]
async fn disconnect_from_a_namespace_keeps_the_others() {
    let mut ws = connected().await;
    ws.send("40/custom").await;
    ws.text().await;
    ws.text().await;
    ws.send("41/custom").await;
    ws.send(r#"42["message","message to main namespace"]"#)
        .await;
    assert_eq!(
        ws.text().await,
        r#"42["message-back","message to main namespace"]"#
    );
    // Leaving the main namespace too: the raw client answers no pings, so
    // the connection ends by ping timeout, as in the official suite.
    ws.auto_pong = false;
    ws.send("41").await;
    ws.closed().await;
}

#[tokio::test]
async fn events_acks_and_binary_round_trip() {
    let mut ws = connected().await;
    ws.send(r#"42["message",1,"2",{"3":[true]}]"#).await;
    assert_eq!(ws.text().await, r#"42["message-back",1,"2",{"3":[true]}]"#);

    ws.send(r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    ws.send_binary(&[1, 2, 3]).await;
    ws.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        ws.text().await,
        r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(ws.binary().await, vec![1, 2, 3]);
    assert_eq!(ws.binary().await, vec![4, 5, 6]);

    ws.send(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
        .await;
    assert_eq!(ws.text().await, r#"43456[1,"2",{"3":[false]}]"#);

    ws.send(r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#).await;
    ws.send_binary(&[1, 2, 3]).await;
    ws.send_binary(&[4, 5, 6]).await;
    assert_eq!(
        ws.text().await,
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(ws.binary().await, vec![1, 2, 3]);
    assert_eq!(ws.binary().await, vec![4, 5, 6]);
}

#[tokio::test]
async fn malformed_packets_close_the_connection() {
    let cases: &[&[&str]] = &[
        &["4abc"],
        &["42{}"],
        &[r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#],
        &["42[]"],
        &[r#"42["disconnect"]"#],
        &["43[1]"],
        &["7"],
        &[r#"451-["a",{"_placeholder":true,"num":0}]"#, r#"42["a"]"#],
        &[r#"4511-["a"]"#],
        &[r#"42/custom,["message"]"#],
        &["40"],
        &[r#"44{"message":"x"}"#],
    ];
    for packets in cases {
        let mut ws = connected().await;
        for p in packets.iter() {
            ws.try_send(p).await;
        }
        ws.closed().await;
    }
}

#[tokio::test]
async fn bad_binary_frames_close_the_connection() {
    // An attachment nobody announced.
    let mut ws = connected().await;
    ws.send_binary(&[1]).await;
    ws.closed().await;
    // A placeholder pointing past the attachments.
    let mut ws = connected().await;
    ws.send(r#"451-["message",{"_placeholder":true,"num":3}]"#)
        .await;
    ws.send_binary(&[1]).await;
    ws.closed().await;
}

#[tokio::test]
async fn a_connection_that_never_joins_is_closed() {
    let addr = server(Parser::Json).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    let started = std::time::Instant::now();
    ws.closed().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(3000),
        "{waited:?}"
    );
}

#[tokio::test]
async fn polling_clients_speak_the_same_protocol() {
    let addr = server(Parser::Json).await;
    let sid = polling_session(addr, "/socket.io/").await;
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        post(addr, &q, "40\x1e42[\"message\",\"x\"]").await.body,
        "ok"
    );
    let body = get(addr, &q).await.body;
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert!(packets[0].starts_with("40{\"sid\""), "{body}");
    assert_eq!(
        &packets[1..],
        [r#"42["auth",{}]"#, r#"42["message-back","x"]"#]
    );
    // Binary over polling: attachments travel as base64.
    assert_eq!(
        post(
            addr,
            &q,
            "451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
        )
        .await
        .body,
        "ok"
    );
    let body = get(addr, &q).await.body;
    assert_eq!(
        body,
        "451-[\"message-back\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
    );
}

#[tokio::test]
async fn msgpack_parser_round_trips_events_and_acks() {
    let addr = server(Parser::MsgPack).await;
    let (mut ws, _) = Ws::open(addr, "/socket.io/").await;
    ws.send_binary(&mp::encode(
        &object! { "type" => 0, "nsp" => "/", "data" => object! { "token" => "m" } },
    ))
    .await;
    let connect = mp::decode(&ws.binary().await);
    assert_eq!(connect.get("type"), Some(&Value::from(0)));
    assert!(connect.get("data").and_then(|d| d.get("sid")).is_some());
    let auth = mp::decode(&ws.binary().await);
    assert_eq!(
        auth.get("data"),
        Some(&Value::Array(vec![
            "auth".into(),
            object! { "token" => "m" }
        ]))
    );

    let payload = Value::Array(vec![
        "message-with-ack".into(),
        object! { "blob" => bytes::Bytes::from_static(&[9, 8]) },
    ]);
    ws.send_binary(&mp::encode(
        &object! { "type" => 2, "nsp" => "/", "data" => payload, "id" => 7 },
    ))
    .await;
    let ack = mp::decode(&ws.binary().await);
    assert_eq!(ack.get("type"), Some(&Value::from(3)));
    assert_eq!(ack.get("id"), Some(&Value::from(7)));
    assert_eq!(
        ack.get("data"),
        Some(&Value::Array(vec![
            object! { "blob" => bytes::Bytes::from_static(&[9, 8]) }
        ]))
    );

    // Text frames are not msgpack.
    ws.send("42[\"message\"]").await;
    ws.closed().await;
}
