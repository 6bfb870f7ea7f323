//! What the subscribing client hears: messages, handed to the cluster, and
//! connection events, which count outages and recoveries and restore the
//! subscriptions.
//!
//! fred's own listeners stop at the first lagged message, so these loops
//! read its channels themselves.

use crate::subscriptions::Subscriptions;
use fred::prelude::*;
use fred::types::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use switchyard_cluster::{BrokerCounters, Delivery};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// A message fred received, as the cluster takes it (a payload that is not
/// bytes is empty, and skipped as malformed).
pub(crate) fn delivery(message: Message) -> Delivery {
    Delivery {
        channel: message.channel.to_string(),
        payload: message.value.into_bytes().unwrap_or_default(),
    }
}

/// Hands every message to the cluster; counts what fred's ring lost.
pub(crate) async fn forward(
    mut messages: tokio::sync::broadcast::Receiver<Message>,
    incoming: mpsc::Sender<Delivery>,
    counters: Arc<BrokerCounters>,
) {
    loop {
        match messages.recv().await {
            Ok(message) => {
                if incoming.send(delivery(message)).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(n)) => {
                counters.lost(n);
                tracing::warn!(
                    broker = "redis",
                    lost = n,
                    "the subscriber fell behind: messages lost"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Counts outages and recoveries, and restores the subscriptions after
/// every reconnection (the first event is the initial connection; on a
/// cluster, fred may reconnect without reporting an error first).
pub(crate) async fn watch(
    subscriptions: Arc<Subscriptions>,
    mut reconnects: tokio::sync::broadcast::Receiver<Server>,
    mut errors: tokio::sync::broadcast::Receiver<(Error, Option<Server>)>,
    counters: Arc<BrokerCounters>,
) {
    let mut initial = true;
    let up = AtomicBool::new(false);
    loop {
        tokio::select! {
            event = reconnects.recv() => match event {
                Ok(server) => {
                    let was_up = up.swap(true, Ordering::AcqRel);
                    if std::mem::take(&mut initial) {
                        continue;
                    }
                    subscriptions.restore();
                    if !was_up {
                        counters.recovery();
                        tracing::info!(broker = "redis", %server, "reconnected to Redis; restoring the subscriptions");
                    }
                }
                Err(RecvError::Lagged(_)) => subscriptions.restore(),
                Err(RecvError::Closed) => return,
            },
            event = errors.recv() => match event {
                Ok((error, _)) => {
                    if up.swap(false, Ordering::AcqRel) {
                        counters.outage();
                        tracing::warn!(broker = "redis", %error, "connection to Redis lost; reconnecting (local delivery goes on)");
                    } else {
                        tracing::debug!(broker = "redis", %error, "reconnection attempt failed");
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}
