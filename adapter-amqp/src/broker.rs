//! `AmqpBroker`: one connection with a consuming channel and a publishing
//! channel, kept alive by a supervisor that reconnects and rebuilds the
//! topology (queue, exchanges, bindings) from the wanted bindings.

use crate::config::{AmqpConfig, AmqpError, node_urls, redact};
use crate::connection::{Shared, Topology, bind, establish};
use crate::naming::{exchange, routing_key};
use crate::publisher::{Outgoing, dropped, publish_loop};
use crate::supervisor::supervise;
use bytes::Bytes;
use lapin::types::{FieldTable, ShortString};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_cluster::broker::BoxFuture;
use switchyard_cluster::{Broker, BrokerCounters, BrokerError, BrokerStats, Channel, Delivery};
use tokio::sync::mpsc;

const OUTGOING_CAPACITY: usize = 16_384;
const INCOMING_CAPACITY: usize = 8_192;
/// How long closing waits for queued messages to go out.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// A cluster broker on RabbitMQ.
pub struct AmqpBroker {
    shared: Arc<Shared>,
    outgoing: mpsc::Sender<Outgoing>,
}

impl AmqpBroker {
    /// Connects; incoming messages arrive on the returned receiver.
    pub async fn connect(
        config: AmqpConfig,
    ) -> Result<(AmqpBroker, mpsc::Receiver<Delivery>), AmqpError> {
        let urls = node_urls(&config.url);
        if urls.is_empty() {
            return Err(AmqpError {
                url: redact(&config.url),
                reason: "no URL".into(),
            });
        }
        let (incoming, deliveries) = mpsc::channel(INCOMING_CAPACITY);
        let shared = Arc::new(Shared {
            config,
            urls,
            next_url: std::sync::atomic::AtomicUsize::new(0),
            counters: BrokerCounters::default(),
            topology: tokio::sync::Mutex::new(Topology {
                wanted: HashSet::new(),
                live: None,
            }),
            publishing: parking_lot::Mutex::new(None),
            incoming,
            closed: AtomicBool::new(false),
            last_drop_warning: AtomicU64::new(0),
            started: Instant::now(),
        });
        let consumer = establish(&shared).await.map_err(|reason| AmqpError {
            url: redact(&shared.config.url),
            reason,
        })?;
        tracing::info!(broker = "amqp", url = %redact(&shared.config.url), prefix = %shared.config.prefix, "connected to RabbitMQ");
        tokio::spawn(supervise(shared.clone(), consumer));
        let (outgoing, queue) = mpsc::channel(OUTGOING_CAPACITY);
        tokio::spawn(publish_loop(shared.clone(), queue));
        Ok((AmqpBroker { shared, outgoing }, deliveries))
    }
}

impl Broker for AmqpBroker {
    fn kind(&self) -> &'static str {
        "amqp"
    }

    fn publish(&self, channel: &Channel, payload: Bytes) {
        if self
            .outgoing
            .try_send(Outgoing::Message(channel.clone(), payload))
            .is_err()
        {
            dropped(&self.shared, "publish queue full");
        }
    }

    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut topology = shared.topology.lock().await;
            let mut result = Ok(());
            for channel in &channels {
                let binding = (
                    exchange(&shared.config.prefix, channel.namespace()),
                    routing_key(channel),
                );
                // Bound again even if wanted already: a bind is idempotent,
                // and a retry after a failed one must reach the broker.
                topology.wanted.insert(binding.clone());
                // While disconnected the binding waits for the reconnection.
                if let Some(live) = &mut topology.live
                    && let Err(e) = bind(live, &binding).await
                {
                    result = Err(BrokerError::Unavailable(e.to_string()));
                }
            }
            result
        })
    }

    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut topology = shared.topology.lock().await;
            for channel in &channels {
                let (exchange, key) = (
                    exchange(&shared.config.prefix, channel.namespace()),
                    routing_key(channel),
                );
                if !topology.wanted.remove(&(exchange.clone(), key.clone())) {
                    continue;
                }
                if let Some(live) = &topology.live
                    && let Err(e) = live
                        .consumer_channel
                        .queue_unbind(live.queue.clone(), exchange, key, FieldTable::default())
                        .await
                {
                    tracing::debug!(broker = "amqp", error = %e, "unbind failed");
                }
            }
            Ok(())
        })
    }

    fn stats(&self) -> BrokerStats {
        self.shared.counters.snapshot()
    }

    fn connected(&self) -> bool {
        self.shared.publishing.lock().is_some()
    }

    fn flush(&self) -> BoxFuture<()> {
        let outgoing = self.outgoing.clone();
        Box::pin(async move {
            let (done, flushed) = tokio::sync::oneshot::channel();
            if outgoing.send(Outgoing::Flushed(done)).await.is_ok() {
                let _ = tokio::time::timeout(FLUSH_WAIT, flushed).await;
            }
        })
    }

    fn close(&self) -> BoxFuture<()> {
        let shared = self.shared.clone();
        let outgoing = self.outgoing.clone();
        Box::pin(async move {
            // Queued messages (a goodbye to the cluster) go out first.
            let (done, flushed) = tokio::sync::oneshot::channel();
            if outgoing.send(Outgoing::Flushed(done)).await.is_ok() {
                let _ = tokio::time::timeout(FLUSH_WAIT, flushed).await;
            }
            shared.closed.store(true, Ordering::Release);
            *shared.publishing.lock() = None;
            if let Some(live) = shared.topology.lock().await.live.take() {
                let _ = live.connection.close(200, ShortString::from("bye")).await;
            }
        })
    }
}
