//! The supervisor: consumes until the connection fails, then reconnects
//! with backoff and rebuilds the topology.
//!
//! lapin's own recovery re-declares a server-named queue under its old name,
//! which RabbitMQ refuses; this supervisor declares a fresh queue instead.

use crate::connection::{Shared, establish};
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::Consumer;
use lapin::options::BasicAckOptions;
use lapin::types::ShortString;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use switchyard_cluster::Delivery;

/// Consumes until the connection fails, then reconnects with backoff.
pub(crate) async fn supervise(shared: Arc<Shared>, mut consumer: Consumer) {
    loop {
        consume(&shared, &mut consumer).await;
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        shared.counters.outage();
        tracing::warn!(
            broker = "amqp",
            "connection to RabbitMQ lost; reconnecting (local delivery goes on)"
        );
        *shared.publishing.lock() = None;
        // The node this connection reached may be the one that failed: the
        // next URL goes first.
        let next = (shared.next_url.load(Ordering::Acquire) + 1) % shared.urls.len();
        shared.next_url.store(next, Ordering::Release);
        if let Some(live) = shared.topology.lock().await.live.take() {
            let _ = live
                .connection
                .close(320, ShortString::from("reconnecting"))
                .await;
        }
        let mut delay = Duration::from_millis(100);
        consumer = loop {
            tokio::time::sleep(delay).await;
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            match establish(&shared).await {
                Ok(consumer) => break consumer,
                Err(reason) => {
                    tracing::debug!(broker = "amqp", %reason, "reconnection failed");
                    delay = (delay * 2).min(shared.config.max_reconnect_delay);
                }
            }
        };
        shared.counters.recovery();
        tracing::info!(
            broker = "amqp",
            "reconnected to RabbitMQ; bindings restored"
        );
    }
}

async fn consume(shared: &Shared, consumer: &mut Consumer) {
    while let Some(delivery) = consumer.next().await {
        match delivery {
            Ok(delivery) => {
                let message = Delivery {
                    channel: delivery.routing_key.to_string(),
                    payload: Bytes::from(delivery.data.clone()),
                };
                if shared.incoming.send(message).await.is_err() {
                    return;
                }
                // Acknowledged once handed on: the prefetch bounds what waits here.
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            Err(e) => tracing::debug!(broker = "amqp", error = %e, "consumer error"),
        }
    }
}
