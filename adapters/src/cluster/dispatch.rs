//! The dispatch tasks: every incoming message, read once, decoded, and
//! handed to the adapter of its namespace.
//!
//! With several workers, the reader routes each message by its publisher
//! ([`WireFormat::publisher`](crate::format::WireFormat::publisher), peeked
//! before decoding): a publisher's messages go to one worker at a time, in
//! the order the broker handed them over (the order the brokers keep per
//! publisher), see [`PublisherRoutes`]; different publishers' messages are
//! decoded and delivered on different cores. Messages whose publisher the
//! format cannot tell all go to the first worker, in arrival order. Each
//! worker's queue is bounded: a busy worker slows the reader, and so the
//! broker's reader, down; nothing is dropped.

use super::routing::PublisherRoutes;
use super::shared::ClusterShared;
use crate::broker::Delivery;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use switchyard_core::limits::WarnGate;
use tokio::sync::mpsc;

/// Malformed messages are logged at most every few seconds.
static MALFORMED: WarnGate = WarnGate::new();

/// Messages that may wait for one worker: enough to keep it busy while the
/// reader serves the others, few enough that a busy worker soon slows the
/// reader down.
const WORKER_QUEUE: usize = 256;

/// How many workers decode and deliver by default: one per worker thread
/// of the current tokio runtime (one on a current-thread runtime).
pub(crate) fn default_workers() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_workers()
        .max(1)
}

/// Reads incoming messages in order and hands each to its namespace, on
/// `workers` tasks (this one alone when `workers` is 1).
pub(crate) async fn dispatch(
    shared: Weak<ClusterShared>,
    mut incoming: mpsc::Receiver<Delivery>,
    workers: usize,
) {
    if workers <= 1 {
        if work(shared, incoming, None).await {
            tracing::debug!("broker stream ended");
        }
        return;
    }
    let mut routes = PublisherRoutes::new(workers);
    let queues: Vec<mpsc::Sender<Delivery>> = routes
        .finished_counters()
        .iter()
        .map(|finished| {
            let (queue, deliveries) = mpsc::channel(WORKER_QUEUE);
            tokio::spawn(work(shared.clone(), deliveries, Some(finished.clone())));
            queue
        })
        .collect();
    while let Some(delivery) = incoming.recv().await {
        let worker = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            routes.route(shared.format.publisher(&delivery).as_deref())
        };
        if queues[worker].send(delivery).await.is_err() {
            // The worker saw the cluster gone.
            return;
        }
    }
    tracing::debug!("broker stream ended");
}

/// Decodes and hands over the messages of `deliveries`, one after the
/// other, counting each in `finished`; `true` when they ended, `false`
/// when the cluster is gone.
async fn work(
    shared: Weak<ClusterShared>,
    mut deliveries: mpsc::Receiver<Delivery>,
    finished: Option<Arc<AtomicU64>>,
) -> bool {
    while let Some(delivery) = deliveries.recv().await {
        let Some(shared) = shared.upgrade() else {
            return false;
        };
        handle(&shared, &delivery);
        if let Some(finished) = &finished {
            finished.fetch_add(1, Ordering::Release);
        }
    }
    true
}

/// Decodes one message and hands it to the adapter of its namespace.
fn handle(shared: &ClusterShared, delivery: &Delivery) {
    let message = match shared.format.decode(delivery) {
        Ok(message) => message,
        Err(e) => {
            shared.skipped.fetch_add(1, Ordering::Relaxed);
            if let Some(unreported) = MALFORMED.due() {
                tracing::warn!(channel = %delivery.channel, error = %e, bytes = delivery.payload.len(), unreported, "skipping a malformed cluster message");
            }
            return;
        }
    };
    // Everything the broker hands over counts (own echoes too): it is
    // the load interest routing keeps flat as nodes are added.
    let kind = message.body.kind();
    metrics::counter!("switchyard_cluster_messages_received_total", "kind" => kind).increment(1);
    if message.uid == shared.uid {
        return;
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
