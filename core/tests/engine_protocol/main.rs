//! The Engine.IO v4 protocol, as the official test suite and Node's
//! engine.io define it: handshake, messages, heartbeat, close, upgrade and
//! every error answer. Runs against the bare engine (an echo server).
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod direct;
mod http_options;
mod polling;
mod websocket;

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

/// Upgrades polling session `sid` to a WebSocket while a poll waits, with
/// a packet posted over polling during the upgrade; returns the WebSocket
/// once that packet came back over it (the waiting poll got a noop).
async fn upgrade_with_a_packet_in_between(addr: std::net::SocketAddr, sid: &str) -> Ws {
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
    ws
}
