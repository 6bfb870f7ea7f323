//! The ordered publishing queue and the task that publishes it on the
//! publishing channel, declaring each exchange on first use.

use crate::connection::{Shared, declare};
use crate::naming::{exchange, routing_key};
use bytes::Bytes;
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use switchyard_cluster::Channel;
use tokio::sync::mpsc;

/// An entry of the ordered publishing queue.
pub(crate) enum Outgoing {
    Message(Channel, Bytes),
    /// Everything queued before has been written.
    Flushed(tokio::sync::oneshot::Sender<()>),
}

/// Publishes queued messages in order on the publishing channel.
pub(crate) async fn publish_loop(shared: Arc<Shared>, mut queue: mpsc::Receiver<Outgoing>) {
    while let Some(entry) = queue.recv().await {
        let (channel, payload) = match entry {
            Outgoing::Message(channel, payload) => (channel, payload),
            Outgoing::Flushed(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let exchange = exchange(&shared.config.prefix, channel.namespace());
        let (publisher, declared) = match &*shared.publishing.lock() {
            Some(p) => (p.channel.clone(), p.exchanges.contains(&exchange)),
            None => {
                dropped(&shared, "not connected");
                continue;
            }
        };
        if !declared {
            if let Err(e) = declare(&publisher, &exchange).await {
                dropped(&shared, &e.to_string());
                continue;
            }
            if let Some(p) = &mut *shared.publishing.lock() {
                p.exchanges.insert(exchange.clone());
            }
        }
        let started = std::time::Instant::now();
        let sent = publisher
            .basic_publish(
                exchange,
                routing_key(&channel),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default(),
            )
            .await;
        switchyard_cluster::broker::record_publish("amqp", started);
        if let Err(e) = sent {
            dropped(&shared, &e.to_string());
        }
    }
}

/// Counts a message not published; warns once a second at most.
pub(crate) fn dropped(shared: &Shared, why: &str) {
    shared.counters.publish_failure();
    let now = shared.started.elapsed().as_secs();
    if shared.last_drop_warning.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(
            broker = "amqp",
            reason = why,
            dropped = shared.counters.snapshot().publish_failures,
            "message not published"
        );
    }
}
