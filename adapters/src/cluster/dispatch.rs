//! The dispatch task: every incoming message, read once, decoded, and
//! handed to the adapter of its namespace.

use super::shared::ClusterShared;
use crate::broker::Delivery;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use switchyard_core::limits::WarnGate;
use tokio::sync::mpsc;

/// Malformed messages are logged at most every few seconds.
static MALFORMED: WarnGate = WarnGate::new();

/// Reads incoming messages in order and hands each to its namespace.
pub(crate) async fn dispatch(shared: Weak<ClusterShared>, mut incoming: mpsc::Receiver<Delivery>) {
    while let Some(delivery) = incoming.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let message = match shared.format.decode(&delivery) {
            Ok(message) => message,
            Err(e) => {
                shared.skipped.fetch_add(1, Ordering::Relaxed);
                if let Some(unreported) = MALFORMED.due() {
                    tracing::warn!(channel = %delivery.channel, error = %e, bytes = delivery.payload.len(), unreported, "skipping a malformed cluster message");
                }
                continue;
            }
        };
        // Everything the broker hands over counts (own echoes too): it is
        // the load interest routing keeps flat as nodes are added.
        let kind = message.body.kind();
        metrics::counter!("switchyard_cluster_messages_received_total", "kind" => kind)
            .increment(1);
        if message.uid == shared.uid {
            continue;
        }
        if shared.answers_newcomers(&message.body) {
            shared.heard_others.store(true, Ordering::Release);
        }
        *shared.received.lock().entry(kind).or_default() += 1;
        let adapter = shared
            .adapters
            .read()
            .get(&message.nsp)
            .and_then(Weak::upgrade);
        match adapter {
            Some(adapter) => adapter.on_message(message),
            None => shared.answer_for_unknown_namespace(message),
        }
    }
    tracing::debug!("broker stream ended");
}
