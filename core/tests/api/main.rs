//! The server API on one node: broadcast operators, acknowledgements both
//! ways, fetch/join/leave/disconnect, disconnect reasons, ordering,
//! volatile packets, the slow-client budget, dynamic namespaces, and
//! mounting in axum.
#![allow(clippy::unwrap_used)]

mod broadcast;
#[path = "../common/mod.rs"]
mod common;
mod lifecycle;
mod server;

use common::*;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::engine::EngineConfig;
use switchyard_core::{
    AckError, DisconnectReason, Event, ServerConfig, Socket, SocketIo, Value, object,
};

fn config() -> ServerConfig {
    ServerConfig {
        engine: suite_engine_config("/socket.io/"),
        ..ServerConfig::default()
    }
}

/// Records disconnect reasons by socket id.
#[derive(Clone, Default)]
struct Reasons(Arc<Mutex<Vec<(String, DisconnectReason)>>>);

impl Reasons {
    fn install(&self, io: &SocketIo, ns: &str) {
        let reasons = self.clone();
        io.of(ns).on_connection(move |socket: Socket| {
            let reasons = reasons.clone();
            async move {
                socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                    let reasons = reasons.clone();
                    async move { reasons.0.lock().push((socket.id().to_string(), reason)) }
                });
            }
        });
    }

    async fn of(&self, sid: &str) -> DisconnectReason {
        eventually(|| self.0.lock().iter().any(|(s, _)| s == sid)).await;
        self.0.lock().iter().find(|(s, _)| s == sid).unwrap().1
    }
}

async fn expect_event(ws: &mut Ws, expected: &str) {
    assert_eq!(ws.text().await, expected);
}
