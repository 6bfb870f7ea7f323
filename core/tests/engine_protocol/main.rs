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
