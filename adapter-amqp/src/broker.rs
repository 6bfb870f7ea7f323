//! `AmqpBroker`: one connection with a consuming channel and a publishing
//! channel, kept alive by a supervisor that reconnects and rebuilds the
//! topology (queue, exchanges, bindings) from the wanted bindings.
//!
//! lapin's own recovery re-declares a server-named queue under its old name,
//! which RabbitMQ refuses; this supervisor declares a fresh queue instead.

use crate::naming::{exchange, routing_key};
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties, Consumer, ExchangeKind};
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

/// An entry of the ordered publishing queue.
enum Outgoing {
    Message(Channel, Bytes),
    /// Everything queued before has been written.
    Flushed(tokio::sync::oneshot::Sender<()>),
}

/// How to reach RabbitMQ.
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:5672/%2f` (`amqps://` for TLS), or the URLs of
    /// several nodes of a RabbitMQ cluster separated by commas: the broker
    /// connects to the first that answers and, when that connection is lost,
    /// tries the next one first. A `heartbeat` query parameter is added
    /// (10 s) where absent, to notice dead peers.
    pub url: String,
    /// Exchange name prefix; clusters with different prefixes share a broker.
    pub prefix: String,
    /// Unacknowledged messages RabbitMQ may push to this node at once.
    pub prefetch: u16,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            prefix: "socket.io".into(),
            prefetch: 1000,
            max_reconnect_delay: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to RabbitMQ at {url}: {reason}")]
pub struct AmqpError {
    url: String,
    reason: String,
}

type Binding = (ShortString, ShortString);

/// The live connection and the bindings wanted across reconnections.
struct Topology {
    wanted: HashSet<Binding>,
    live: Option<Live>,
}

struct Live {
    connection: Connection,
    consumer_channel: lapin::Channel,
    queue: ShortString,
    exchanges: HashSet<ShortString>,
}

/// The publishing side of the live connection.
struct Publishing {
    channel: lapin::Channel,
    exchanges: HashSet<ShortString>,
}

struct Shared {
    config: AmqpConfig,
    /// The URLs of `config.url`, each with a heartbeat.
    urls: Vec<String>,
    /// The URL tried first at the next connection.
    next_url: std::sync::atomic::AtomicUsize,
    counters: BrokerCounters,
    topology: tokio::sync::Mutex<Topology>,
    publishing: parking_lot::Mutex<Option<Publishing>>,
    incoming: mpsc::Sender<Delivery>,
    closed: AtomicBool,
    last_drop_warning: AtomicU64,
    started: Instant,
}

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

/// The comma-separated URLs of `list`, each with a heartbeat.
fn node_urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            let mut url = url.to_owned();
            if !url.contains("heartbeat=") {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str("heartbeat=10");
            }
            url
        })
        .collect()
}

/// Connects to the first URL that answers, from the one due next.
async fn open_connection(shared: &Shared) -> Result<Connection, String> {
    let first = shared.next_url.load(Ordering::Acquire);
    let mut reasons = Vec::new();
    for i in 0..shared.urls.len() {
        let index = (first + i) % shared.urls.len();
        let url = &shared.urls[index];
        let properties = ConnectionProperties::default().with_connection_name("switchyard".into());
        let attempt = tokio::time::timeout(
            shared.config.connect_timeout,
            Connection::connect(url, properties),
        )
        .await;
        match attempt {
            Ok(Ok(connection)) => {
                shared.next_url.store(index, Ordering::Release);
                if shared.urls.len() > 1 {
                    tracing::info!(broker = "amqp", url = %redact(url), "connected to this RabbitMQ node");
                }
                return Ok(connection);
            }
            Ok(Err(e)) => reasons.push(format!("{}: {e}", redact(url))),
            Err(_) => reasons.push(format!("{}: connection timed out", redact(url))),
        }
    }
    Err(reasons.join("; "))
}

/// Connects and builds the topology: a fresh exclusive queue, every wanted
/// exchange and binding, and a consumer.
async fn establish(shared: &Shared) -> Result<Consumer, String> {
    let text = |e: lapin::Error| e.to_string();
    let connection = open_connection(shared).await?;
    let consumer_channel = connection.create_channel().await.map_err(text)?;
    let publish_channel = connection.create_channel().await.map_err(text)?;
    consumer_channel
        .basic_qos(shared.config.prefetch, BasicQosOptions::default())
        .await
        .map_err(text)?;
    let queue = consumer_channel
        .queue_declare(
            ShortString::from(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(text)?
        .name()
        .clone();
    let mut topology = shared.topology.lock().await;
    let mut live = Live {
        connection,
        consumer_channel,
        queue,
        exchanges: HashSet::new(),
    };
    for binding in topology.wanted.clone() {
        bind(&mut live, &binding).await.map_err(text)?;
    }
    let consumer = live
        .consumer_channel
        .basic_consume(
            live.queue.clone(),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(text)?;
    topology.live = Some(live);
    *shared.publishing.lock() = Some(Publishing {
        channel: publish_channel,
        exchanges: HashSet::new(),
    });
    Ok(consumer)
}

async fn declare(channel: &lapin::Channel, name: &ShortString) -> lapin::Result<()> {
    // Every node declares identically; auto_delete off so the last unbind
    // does not delete an exchange others publish to.
    let options = ExchangeDeclareOptions {
        durable: false,
        auto_delete: false,
        ..Default::default()
    };
    channel
        .exchange_declare(
            name.clone(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
}

async fn bind(live: &mut Live, (exchange, key): &Binding) -> lapin::Result<()> {
    if !live.exchanges.contains(exchange) {
        declare(&live.consumer_channel, exchange).await?;
        live.exchanges.insert(exchange.clone());
    }
    live.consumer_channel
        .queue_bind(
            live.queue.clone(),
            exchange.clone(),
            key.clone(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// Consumes until the connection fails, then reconnects with backoff.
async fn supervise(shared: Arc<Shared>, mut consumer: Consumer) {
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

/// Publishes queued messages in order on the publishing channel.
async fn publish_loop(shared: Arc<Shared>, mut queue: mpsc::Receiver<Outgoing>) {
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

fn dropped(shared: &Shared, why: &str) {
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

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
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
