//! Subscription changes, applied to the broker one after the other.

use crate::broker::{Broker, Channel};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A change of this node's subscriptions, queued in call order.
pub(crate) enum SubscriptionChange {
    Subscribe(Vec<Channel>, Option<oneshot::Sender<bool>>),
    Unsubscribe(Vec<Channel>),
}

/// Waits before trying a refused subscription again.
const SUBSCRIBE_RETRIES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
];

/// Applies subscription changes one after the other, so that a quick
/// join-leave-join of a room ends subscribed.
pub(crate) async fn apply_subscriptions(
    broker: Arc<dyn Broker>,
    mut changes: mpsc::UnboundedReceiver<SubscriptionChange>,
) {
    while let Some(change) = changes.recv().await {
        match change {
            SubscriptionChange::Subscribe(channels, done) => {
                let mut result = broker.subscribe(channels.clone()).await;
                // A refused subscription is tried again a few times before
                // the joins waiting for it hear it failed.
                for wait in SUBSCRIBE_RETRIES {
                    let Err(e) = &result else { break };
                    tracing::warn!(broker = broker.kind(), error = %e, ?channels, retry_in_ms = wait.as_millis() as u64, "subscription failed: retrying");
                    tokio::time::sleep(wait).await;
                    result = broker.subscribe(channels.clone()).await;
                }
                if let Err(e) = &result {
                    tracing::warn!(broker = broker.kind(), error = %e, ?channels, "subscription failed: the joins waiting for it report it; the broker resubscribes when it reconnects");
                }
                if let Some(done) = done {
                    let _ = done.send(result.is_ok());
                }
            }
            SubscriptionChange::Unsubscribe(channels) => {
                if let Err(e) = broker.unsubscribe(channels.clone()).await {
                    tracing::debug!(broker = broker.kind(), error = %e, ?channels, "unsubscription failed");
                }
            }
        }
    }
}
