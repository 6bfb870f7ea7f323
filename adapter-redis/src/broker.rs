//! `RedisBroker`: a publishing client and a subscribing client.
//!
//! RESP2 forbids publishing on a subscribed connection, hence two clients.
//! fred's own listeners stop at the first lagged message, so this broker
//! reads messages and connection events itself (see `incoming`); it also
//! restores the subscriptions after every reconnection.

use crate::channels::{Subscription, name, subscription};
use crate::client::{builder, refuse_a_cluster_node};
use crate::config::{RedisConfig, RedisError, redact};
use crate::incoming::{forward, watch};
use crate::store::RedisStore;
use crate::subscriptions::{Kind, Subscriptions, Target};
use crate::topology::{NodeClients, count_subscribers};
use crate::writer::{Outgoing, write};
use bytes::Bytes;
use fred::clients::{Client, SubscriberClient};
use fred::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_cluster::broker::BoxFuture;
use switchyard_cluster::{
    Broker, BrokerCounters, BrokerError, BrokerStats, Channel, Delivery, SessionStore, WireFormat,
};
use tokio::sync::mpsc;

const OUTGOING_CAPACITY: usize = 16_384;
const INCOMING_CAPACITY: usize = 8_192;
/// How long closing waits for queued messages to go out.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// A cluster broker on Redis pub/sub.
pub struct RedisBroker {
    subscriber: SubscriberClient,
    subscriptions: Arc<Subscriptions>,
    publisher: Client,
    /// On a Redis Cluster, a connection to each node, to count subscribers.
    nodes: Option<Arc<NodeClients>>,
    config: RedisConfig,
    counters: Arc<BrokerCounters>,
    outgoing: mpsc::Sender<Outgoing>,
    store: Arc<RedisStore>,
    last_drop_warning: AtomicU64,
    started: Instant,
}

impl RedisBroker {
    /// Connects both clients; incoming messages arrive on the returned receiver.
    pub async fn connect(
        config: RedisConfig,
    ) -> Result<(RedisBroker, mpsc::Receiver<Delivery>), RedisError> {
        let fail = |reason: String| RedisError::new(&config.url, reason);
        let builder = builder(&config)?;
        let publisher = builder.build().map_err(|e| fail(e.to_string()))?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| fail(e.to_string()))?;
        // Receivers before init: fred drops what no receiver is there for.
        let messages = subscriber.message_rx();
        let reconnects = subscriber.reconnect_rx();
        let errors = subscriber.error_rx();
        publisher.init().await.map_err(|e| fail(e.to_string()))?;
        if let Err(e) = refuse_a_cluster_node(&publisher).await {
            let _ = publisher.quit().await;
            return Err(fail(e));
        }
        subscriber.init().await.map_err(|e| fail(e.to_string()))?;
        tracing::info!(broker = "redis", url = %redact(&config.url), prefix = %config.prefix, sharded = config.is_sharded(), format = ?config.format, "connected to Redis");

        let counters = Arc::new(BrokerCounters::default());
        let (incoming, deliveries) = mpsc::channel(INCOMING_CAPACITY);
        tokio::spawn(forward(messages, incoming, counters.clone()));
        let subscriptions = Subscriptions::new(subscriber.clone());
        tokio::spawn(watch(
            subscriptions.clone(),
            reconnects,
            errors,
            counters.clone(),
        ));
        let (outgoing, queue) = mpsc::channel(OUTGOING_CAPACITY);
        tokio::spawn(write(
            publisher.clone(),
            queue,
            counters.clone(),
            config.is_sharded(),
        ));
        let store = Arc::new(RedisStore {
            prefix: config.prefix.clone(),
            outgoing: outgoing.clone(),
            client: publisher.clone(),
            counters: counters.clone(),
        });
        let nodes = publisher
            .is_clustered()
            .then(|| Arc::new(NodeClients::new(builder.clone())));
        let broker = RedisBroker {
            subscriber,
            subscriptions,
            publisher,
            nodes,
            config,
            counters,
            outgoing,
            store,
            last_drop_warning: AtomicU64::new(0),
            started: Instant::now(),
        };
        Ok((broker, deliveries))
    }
}

impl RedisBroker {
    /// (S|P)SUBSCRIBE or (S|P)UNSUBSCRIBE, as the mode and format want.
    fn change_subscriptions(
        &self,
        channels: Vec<Channel>,
        subscribe: bool,
    ) -> BoxFuture<Result<(), BrokerError>> {
        let sharded = self.config.is_sharded();
        let mut targets: Vec<Target> = Vec::with_capacity(channels.len());
        for channel in &channels {
            match subscription(&self.config.prefix, self.config.format, channel) {
                Subscription::Channel(name) if sharded => targets.push((Kind::Shard, name)),
                Subscription::Channel(name) => targets.push((Kind::Channel, name)),
                Subscription::Pattern(_) if sharded => {
                    return Box::pin(async {
                        Err(BrokerError::Refused(
                            "sharded pub/sub has no patterns".into(),
                        ))
                    });
                }
                Subscription::Pattern(pattern) => targets.push((Kind::Pattern, pattern)),
            }
        }
        let subscriptions = self.subscriptions.clone();
        Box::pin(async move {
            subscriptions
                .change(targets, subscribe)
                .await
                .map_err(|e| BrokerError::Unavailable(e.to_string()))
        })
    }
}

impl Broker for RedisBroker {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn publish(&self, channel: &Channel, payload: Bytes) {
        if self
            .outgoing
            .try_send(Outgoing::Message(
                name(&self.config.prefix, self.config.format, channel),
                payload,
            ))
            .is_err()
        {
            self.counters.publish_failure();
            let now = self.started.elapsed().as_secs();
            if self.last_drop_warning.swap(now, Ordering::Relaxed) != now {
                tracing::warn!(
                    broker = "redis",
                    dropped = self.counters.snapshot().publish_failures,
                    "publish queue full: message dropped"
                );
            }
        }
    }

    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.change_subscriptions(channels, true)
    }

    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.change_subscriptions(channels, false)
    }

    fn stats(&self) -> BrokerStats {
        self.counters.snapshot()
    }

    fn subscriber_count(&self, channel: &Channel) -> BoxFuture<Result<usize, BrokerError>> {
        let channel = name(&self.config.prefix, self.config.format, channel);
        let publisher = self.publisher.clone();
        let nodes = self.nodes.clone();
        let sharded = self.config.is_sharded();
        Box::pin(async move {
            count_subscribers(&publisher, nodes.as_deref(), sharded, channel)
                .await
                .map_err(BrokerError::Unavailable)
        })
    }

    fn wire_format(&self) -> Arc<dyn WireFormat> {
        self.config.wire_format()
    }

    fn session_store(&self) -> Option<Arc<dyn SessionStore>> {
        Some(self.store.clone())
    }

    fn connected(&self) -> bool {
        self.subscriber.is_connected() && self.publisher.is_connected()
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
        let subscriber = self.subscriber.clone();
        let nodes = self.nodes.clone();
        let publisher = self.publisher.clone();
        let outgoing = self.outgoing.clone();
        Box::pin(async move {
            // Queued messages (a goodbye to the cluster) go out first.
            let (done, flushed) = tokio::sync::oneshot::channel();
            if outgoing.send(Outgoing::Flushed(done)).await.is_ok() {
                let _ = tokio::time::timeout(FLUSH_WAIT, flushed).await;
            }
            let _ = subscriber.quit().await;
            let _ = publisher.quit().await;
            if let Some(nodes) = nodes {
                nodes.close().await;
            }
        })
    }
}
