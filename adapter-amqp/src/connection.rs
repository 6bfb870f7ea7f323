//! The connection to RabbitMQ that the broker, its supervisor and its
//! publisher share: which node to try, and the topology (a fresh exclusive
//! queue, the exchanges, the wanted bindings) built on each connection.

use crate::config::{AmqpConfig, redact};
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties, Consumer, ExchangeKind};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use switchyard_cluster::{BrokerCounters, Delivery};
use tokio::sync::mpsc;

pub(crate) type Binding = (ShortString, ShortString);

/// The live connection and the bindings wanted across reconnections.
pub(crate) struct Topology {
    pub(crate) wanted: HashSet<Binding>,
    pub(crate) live: Option<Live>,
}

/// A connection with its consuming channel, its queue and the exchanges
/// declared on it.
pub(crate) struct Live {
    pub(crate) connection: Connection,
    pub(crate) consumer_channel: lapin::Channel,
    pub(crate) queue: ShortString,
    exchanges: HashSet<ShortString>,
}

/// The publishing side of the live connection.
pub(crate) struct Publishing {
    pub(crate) channel: lapin::Channel,
    pub(crate) exchanges: HashSet<ShortString>,
}

/// What the broker, its supervisor and its publisher share.
pub(crate) struct Shared {
    pub(crate) config: AmqpConfig,
    /// The URLs of `config.url`, each with a heartbeat.
    pub(crate) urls: Vec<String>,
    /// The URL tried first at the next connection.
    pub(crate) next_url: std::sync::atomic::AtomicUsize,
    pub(crate) counters: BrokerCounters,
    pub(crate) topology: tokio::sync::Mutex<Topology>,
    pub(crate) publishing: parking_lot::Mutex<Option<Publishing>>,
    pub(crate) incoming: mpsc::Sender<Delivery>,
    pub(crate) closed: AtomicBool,
    pub(crate) last_drop_warning: AtomicU64,
    pub(crate) started: Instant,
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
pub(crate) async fn establish(shared: &Shared) -> Result<Consumer, String> {
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

pub(crate) async fn declare(channel: &lapin::Channel, name: &ShortString) -> lapin::Result<()> {
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

pub(crate) async fn bind(live: &mut Live, (exchange, key): &Binding) -> lapin::Result<()> {
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
