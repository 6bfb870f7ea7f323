//! The ordered publishing queue and the task that empties it: recovery
//! data to JetStream first, then the messages queued with it.

use crate::reader::Stamp;
use crate::store::{Kept, StoreNames, ensure_stream};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::BrokerCounters;
use tokio::sync::{mpsc, oneshot};

/// An entry of the ordered publishing queue.
pub(crate) enum Outgoing {
    Message(String, Bytes),
    /// Recovery data for a JetStream stream (created on first use, with
    /// `keep` as its maximum age).
    Keep {
        kept: Kept,
        subject: String,
        payload: Bytes,
        keep: Duration,
    },
    /// Everything queued before has been handed to the client.
    Flushed(oneshot::Sender<()>),
}

/// Messages taken from the queue at once.
const BATCH: usize = 256;

/// Publishes queued messages in order, recovery data first: what is queued
/// together is taken as a batch, its recovery data is published to
/// JetStream and acknowledged, and only then are its messages published. A
/// packet is thus in the stream before any node can receive it live, so a
/// recovery that reads the stream after its socket joined its rooms misses
/// nothing (a live copy it did not get is in the stream).
pub(crate) async fn write(
    client: async_nats::Client,
    mut queue: mpsc::Receiver<Outgoing>,
    counters: Arc<BrokerCounters>,
    (jetstream, names, replicas): (async_nats::jetstream::Context, StoreNames, usize),
) {
    let stamp = Stamp::new();
    let mut ready: Vec<Kept> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut acks = Vec::new();
        let mut after = Vec::with_capacity(batch.len());
        for entry in batch.drain(..) {
            let Outgoing::Keep {
                kept,
                subject,
                payload,
                keep,
            } = entry
            else {
                after.push(entry);
                continue;
            };
            if !ready.contains(&kept) {
                match ensure_stream(&jetstream, &names, kept, keep, replicas).await {
                    Ok(()) => ready.push(kept),
                    Err(e) => {
                        counters.publish_failure();
                        tracing::warn!(broker = "nats", error = %e, "cannot create the JetStream recovery stream");
                        continue;
                    }
                }
            }
            match jetstream.publish(subject, payload).await {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    counters.publish_failure();
                    tracing::warn!(broker = "nats", error = %e, "recovery data not published");
                }
            }
        }
        for ack in acks {
            if let Err(e) = ack.await {
                counters.publish_failure();
                tracing::warn!(broker = "nats", error = %e, "recovery data not stored");
            }
        }
        // Flush markers of one batch share one flush, once its messages are
        // out (a storm of recoveries each asks for one).
        let mut flushed = Vec::new();
        for entry in after {
            match entry {
                Outgoing::Message(subject, payload) => {
                    let started = std::time::Instant::now();
                    let published = client
                        .publish_with_headers(subject, stamp.next(), payload)
                        .await;
                    if let Err(e) = published {
                        counters.publish_failure();
                        tracing::warn!(broker = "nats", error = %e, "publish failed");
                    }
                    switchyard_cluster::broker::record_publish("nats", started);
                }
                Outgoing::Flushed(done) => flushed.push(done),
                Outgoing::Keep { .. } => {}
            }
        }
        if !flushed.is_empty() {
            let _ = client.flush().await;
            for done in flushed {
                let _ = done.send(());
            }
        }
    }
}
