//! `RedisBroker`: a publishing client and a subscribing client.
//!
//! RESP2 forbids publishing on a subscribed connection, hence two clients.
//! fred's own listeners stop at the first lagged message, so this broker
//! reads messages and connection events itself; it also restores the
//! subscriptions after every reconnection.

use crate::channels::{RedisFormat, Subscription, name, subscription};
use crate::node_format::NodeFormat;
use crate::node_sharded::NodeShardedFormat;
use crate::store::RedisStore;
use crate::subscriptions::{Kind, Subscriptions, Target};
use crate::topology::{NodeClients, count_subscribers};
use bytes::Bytes;
use fred::clients::{Client, SubscriberClient};
use fred::prelude::*;
use fred::types::config::{ClusterDiscoveryPolicy, ReconnectPolicy};
use fred::types::{ClusterHash, CustomCommand, Message, Value as RedisValue};
use smol_str::SmolStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_cluster::broker::BoxFuture;
use switchyard_cluster::{
    Broker, BrokerCounters, BrokerError, BrokerStats, Channel, Delivery, NativeFormat,
    SessionStore, WireFormat,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

const OUTGOING_CAPACITY: usize = 16_384;
const INCOMING_CAPACITY: usize = 8_192;
/// fred's message ring (default 32); a lag there loses messages.
const MESSAGE_RING: usize = 16_384;
/// Publishes sent per pipeline (one round trip).
const BATCH: usize = 256;
/// How long closing waits for queued messages to go out.
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// The longest wait between reconnections to a Redis Cluster.
const CLUSTER_MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

/// A plain `redis://` URL that reaches a node of a Redis Cluster would
/// fail later with MOVED errors on most commands: refused at start with
/// the URL form that works.
async fn refuse_a_cluster_node(client: &Client) -> Result<(), String> {
    if client.is_clustered() {
        return Ok(());
    }
    // Servers that refuse INFO (some managed ones) are taken as they are.
    let info: String = match client.custom(command("INFO"), vec!["cluster"]).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "INFO cluster refused");
            return Ok(());
        }
    };
    if info.lines().any(|line| line.trim() == "cluster_enabled:1") {
        return Err("this server is a node of a Redis Cluster: connect with \
             redis-cluster://host:port?node=host2:port2&node=host3:port3 \
             (a plain redis:// URL reaches one node and fails with MOVED)"
            .into());
    }
    Ok(())
}

/// An entry of the ordered publishing queue.
pub(crate) enum Outgoing {
    Message(String, Bytes),
    /// A recoverable packet for a stream, trimmed to entries after `min_id`
    /// (ms); the stream expires `ttl_ms` after its last packet.
    Append {
        key: String,
        offset: SmolStr,
        payload: Bytes,
        min_id: u64,
        ttl_ms: u64,
    },
    /// A session kept for `ttl_ms`.
    Save {
        key: String,
        payload: Bytes,
        ttl_ms: u64,
    },
    /// Everything queued before has been sent.
    Flushed(tokio::sync::oneshot::Sender<()>),
}

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// `redis-cluster://` for a cluster.
    pub url: String,
    /// Channel prefix (Node's `key`); clusters with different prefixes share a server.
    pub prefix: String,
    /// SPUBLISH/SSUBSCRIBE (sharded pub/sub, for Redis Cluster), with
    /// [`RedisFormat::Switchyard`]; [`RedisFormat::NodeSharded`] is always
    /// sharded, and [`RedisFormat::Node`] never (Node's classic adapter).
    pub sharded: bool,
    /// The wire format: Node's `@socket.io/redis-adapter` (the default, so
    /// Node.js servers and emitters share the cluster) or Switchyard's own.
    pub format: RedisFormat,
    /// In the Node format, answer requests on the requester's own response
    /// channel (Node's `publishOnSpecificResponseChannel`). Every server of
    /// the cluster must agree on it.
    pub specific_response_channel: bool,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// How long a command may wait (during an outage, publishes fail after this).
    pub command_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "socket.io".into(),
            sharded: false,
            format: RedisFormat::Node,
            specific_response_channel: false,
            max_reconnect_delay: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisConfig {
    /// The format of the channels, as this configuration chooses it.
    pub fn wire_format(&self) -> Arc<dyn WireFormat> {
        match self.format {
            RedisFormat::Node => Arc::new(NodeFormat::new(
                self.prefix.clone(),
                self.specific_response_channel,
            )),
            RedisFormat::Switchyard => Arc::new(NativeFormat),
            RedisFormat::NodeSharded => Arc::new(NodeShardedFormat::new(self.prefix.clone())),
        }
    }

    /// Whether messages go through sharded pub/sub.
    pub fn is_sharded(&self) -> bool {
        self.sharded || self.format == RedisFormat::NodeSharded
    }
}

/// Why the broker (or an emitter) could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Redis at {url}: {reason}")]
pub struct RedisError {
    url: String,
    reason: String,
}

impl RedisError {
    pub(crate) fn new(url: &str, reason: String) -> Self {
        RedisError {
            url: redact(url),
            reason,
        }
    }
}

/// A fred client builder for `config`: reconnecting, at most once per
/// command, no Nagle delay.
pub(crate) fn builder(config: &RedisConfig) -> Result<Builder, RedisError> {
    if config.sharded && config.format == RedisFormat::Node {
        return Err(RedisError::new(
            &config.url,
            "Node's classic adapter has no sharded pub/sub: use the NodeSharded format (Node's createShardedAdapter) or the Switchyard format".into(),
        ));
    }
    let mut redis_config =
        Config::from_url(&config.url).map_err(|e| RedisError::new(&config.url, e.to_string()))?;
    let mut max_reconnect_delay = config.max_reconnect_delay;
    if redis_config.server.is_clustered() {
        // A failover takes a few seconds; retrying at most every second
        // finds the promoted replica soon after, not up to 5 s later.
        max_reconnect_delay = max_reconnect_delay.min(CLUSTER_MAX_RECONNECT_DELAY);
        // Find the cluster through every node last seen, not only the
        // seeds: a node whose seeds all died still finds the promoted
        // replicas.
        let _ = redis_config
            .server
            .set_cluster_discovery_policy(ClusterDiscoveryPolicy::UseCache);
    } else if config.is_sharded() {
        tracing::warn!(broker = "redis", url = %redact(&config.url), "sharded pub/sub without a redis-cluster:// URL: fine on one server, but a Redis Cluster needs redis-cluster://host:port?node=host2:port2");
    }
    let max_delay = max_reconnect_delay.as_millis().min(u128::from(u32::MAX)) as u32;
    let mut builder = Builder::from_config(redis_config);
    builder
        // Without a policy a lost connection leaves commands hanging.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, max_delay, 2))
        .with_performance_config(|p| {
            p.broadcast_channel_capacity = MESSAGE_RING;
            p.default_command_timeout = config.command_timeout;
        })
        .with_connection_config(|c| {
            // A publish in flight when the connection drops is not sent
            // again: at most once, never twice.
            c.max_command_attempts = 1;
            c.tcp.nodelay = Some(true);
        });
    Ok(builder)
}

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

/// A message fred received, as the cluster takes it (a payload that is not
/// bytes is empty, and skipped as malformed).
pub(crate) fn delivery(message: Message) -> Delivery {
    Delivery {
        channel: message.channel.to_string(),
        payload: message.value.into_bytes().unwrap_or_default(),
    }
}

/// Hands every message to the cluster; counts what fred's ring lost.
async fn forward(
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
async fn watch(
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

/// Publishes queued messages in order, a pipeline per batch.
async fn write(
    publisher: Client,
    mut queue: mpsc::Receiver<Outgoing>,
    counters: Arc<BrokerCounters>,
    sharded: bool,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let pipeline = publisher.pipeline();
        let mut flushed = Vec::new();
        // Streams appended to in this batch, with their expiry: without
        // traffic nothing trims a stream, so it expires instead.
        let mut streams: Vec<(String, u64)> = Vec::new();
        for entry in batch.drain(..) {
            let queued: Result<(), Error> = match entry {
                Outgoing::Message(channel, payload) if sharded => {
                    pipeline.spublish(channel, payload).await
                }
                Outgoing::Message(channel, payload) => pipeline.publish(channel, payload).await,
                Outgoing::Append {
                    key,
                    offset,
                    payload,
                    min_id,
                    ttl_ms,
                } => {
                    match streams.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, ttl)) => *ttl = ttl_ms,
                        None => streams.push((key.clone(), ttl_ms)),
                    }
                    let args: Vec<RedisValue> = vec![
                        key.into(),
                        "MINID".into(),
                        "~".into(),
                        min_id.to_string().into(),
                        "*".into(),
                        "o".into(),
                        offset.as_str().into(),
                        "m".into(),
                        payload.into(),
                    ];
                    pipeline.custom(command("XADD"), args).await
                }
                Outgoing::Save {
                    key,
                    payload,
                    ttl_ms,
                } => {
                    let args: Vec<RedisValue> = vec![
                        key.into(),
                        payload.into(),
                        "PX".into(),
                        ttl_ms.to_string().into(),
                    ];
                    pipeline.custom(command("SET"), args).await
                }
                Outgoing::Flushed(done) => {
                    flushed.push(done);
                    continue;
                }
            };
            if let Err(e) = queued {
                counters.publish_failure();
                tracing::debug!(broker = "redis", error = %e, "publish not queued");
            }
        }
        for (key, ttl_ms) in streams {
            let args: Vec<RedisValue> = vec![key.into(), ttl_ms.to_string().into()];
            let queued: Result<(), Error> = pipeline.custom(command("PEXPIRE"), args).await;
            if let Err(e) = queued {
                tracing::debug!(broker = "redis", error = %e, "stream expiry not queued");
            }
        }
        let started = std::time::Instant::now();
        let results = pipeline.try_all::<RedisValue>().await;
        switchyard_cluster::broker::record_publish("redis", started);
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            for _ in 0..failed {
                counters.publish_failure();
            }
            tracing::warn!(
                broker = "redis",
                failed,
                "publishes failed (Redis unreachable?)"
            );
        }
        for done in flushed {
            let _ = done.send(());
        }
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

pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
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
