//! `Broker`: the one thing a broker crate implements.
//!
//! A broker moves opaque bytes between the nodes of a cluster: it publishes
//! to a logical [`Channel`], subscribes to channels, hands every message it
//! receives to the cluster, and survives outages on its own (reconnect,
//! resubscribe, log and count what happened). How a channel is named on the
//! wire (a Redis channel, a NATS subject, an AMQP routing key) is the broker
//! crate's choice.

use crate::format::{NativeFormat, WireFormat};
use crate::session_store::SessionStore;
use bytes::Bytes;
use smol_str::SmolStr;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_core::Room;

/// Records how long handing messages to the broker took
/// (`switchyard_broker_publish_seconds{broker}`), from `started`.
pub fn record_publish(broker: &'static str, started: std::time::Instant) {
    metrics::histogram!("switchyard_broker_publish_seconds", "broker" => broker)
        .record(started.elapsed().as_secs_f64());
}

/// A boxed future, as brokers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A node id: 16 hexadecimal characters, random per process.
pub type NodeId = SmolStr;

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Every node serving a namespace: broadcasts and requests.
    Namespace(SmolStr),
    /// Nodes with local members in one room of a namespace.
    Room {
        /// The namespace.
        ns: SmolStr,
        /// The room.
        room: Room,
    },
    /// One node, in one namespace: responses to its requests.
    Node {
        /// The namespace.
        ns: SmolStr,
        /// The node.
        node: NodeId,
    },
    /// Requests to every node of a namespace, for formats that keep them
    /// apart from broadcasts (Node's Redis adapter).
    Requests(SmolStr),
    /// Responses every node of a namespace hears (Node's Redis adapter).
    Responses(SmolStr),
    /// Messages only Switchyard nodes exchange (heartbeats, presence), for
    /// formats that keep them apart from other servers (Node's).
    Switchyard(SmolStr),
}

impl Channel {
    /// The namespace the channel belongs to.
    pub fn namespace(&self) -> &SmolStr {
        match self {
            Channel::Namespace(ns)
            | Channel::Room { ns, .. }
            | Channel::Node { ns, .. }
            | Channel::Requests(ns)
            | Channel::Responses(ns)
            | Channel::Switchyard(ns) => ns,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Namespace(ns) => write!(f, "{ns}"),
            Channel::Room { ns, room } => write!(f, "{ns} room {room}"),
            Channel::Node { ns, node } => write!(f, "{ns} node {node}"),
            Channel::Requests(ns) => write!(f, "{ns} requests"),
            Channel::Responses(ns) => write!(f, "{ns} responses"),
            Channel::Switchyard(ns) => write!(f, "{ns} switchyard"),
        }
    }
}

/// A message received from the broker.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The broker's name for the channel it arrived on (for logs).
    pub channel: String,
    /// The message.
    pub payload: Bytes,
}

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker is unreachable right now (it keeps reconnecting).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the operation.
    #[error("broker refused: {0}")]
    Refused(String),
    /// The broker has been closed.
    #[error("broker closed")]
    Closed,
}

/// What happened to a broker connection so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Times the connection was lost.
    pub outages: u64,
    /// Times it was restored (subscriptions included).
    pub recoveries: u64,
    /// Messages that could not be published (lost during an outage).
    pub publish_failures: u64,
    /// Incoming messages that were malformed or foreign and were skipped.
    pub skipped_messages: u64,
    /// Incoming messages the broker client dropped (a slow consumer).
    pub lost_incoming: u64,
}

/// Counters a broker implementation updates; [`BrokerCounters::snapshot`]
/// gives its [`BrokerStats`].
#[derive(Debug, Default)]
pub struct BrokerCounters {
    outages: AtomicU64,
    recoveries: AtomicU64,
    publish_failures: AtomicU64,
    skipped_messages: AtomicU64,
    lost_incoming: AtomicU64,
}

impl BrokerCounters {
    /// Records a lost connection.
    pub fn outage(&self) {
        self.outages.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a restored connection.
    pub fn recovery(&self) {
        self.recoveries.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a message that could not be published.
    pub fn publish_failure(&self) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a skipped incoming message.
    pub fn skipped(&self) {
        self.skipped_messages.fetch_add(1, Ordering::Relaxed);
    }
    /// Records incoming messages the client dropped.
    pub fn lost(&self, n: u64) {
        self.lost_incoming.fetch_add(n, Ordering::Relaxed);
    }
    /// The current values.
    pub fn snapshot(&self) -> BrokerStats {
        BrokerStats {
            outages: self.outages.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
            publish_failures: self.publish_failures.load(Ordering::Relaxed),
            skipped_messages: self.skipped_messages.load(Ordering::Relaxed),
            lost_incoming: self.lost_incoming.load(Ordering::Relaxed),
        }
    }
}

/// A connection to a message broker, shared by every namespace of a node.
///
/// Implementations deliver every message of a subscribed channel, in the
/// order the broker received them, to the receiver handed out with the
/// broker (see each broker crate's `connect`); a full receiver slows the
/// broker's reading down, it never drops messages.
pub trait Broker: Send + Sync + 'static {
    /// A short name for logs: `memory`, `redis`, `nats`, `amqp`.
    fn kind(&self) -> &'static str;

    /// Queues a message. Never blocks; messages published by one node reach
    /// the broker in call order. A message that cannot be delivered (the
    /// broker is down) is counted and logged.
    fn publish(&self, channel: &Channel, payload: Bytes);

    /// Subscribes to channels; resolves once the broker confirmed. Calls
    /// take effect in call order, also with [`Broker::unsubscribe`].
    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>>;

    /// Unsubscribes from channels.
    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>>;

    /// What happened to the connection so far.
    fn stats(&self) -> BrokerStats;

    /// Resolves once everything published (or kept in the session store)
    /// before the call has reached the broker, or after a short wait when
    /// it is unreachable.
    fn flush(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    /// Whether the connection to the broker is up right now.
    fn connected(&self) -> bool {
        true
    }

    /// Flushes what is queued and disconnects.
    fn close(&self) -> BoxFuture<()>;

    /// How many subscribers a channel has (for formats that count nodes
    /// that way). Brokers that cannot tell refuse.
    fn subscriber_count(&self, channel: &Channel) -> BoxFuture<Result<usize, BrokerError>> {
        let channel = channel.to_string();
        Box::pin(async move {
            Err(BrokerError::Refused(format!(
                "cannot count the subscribers of {channel}"
            )))
        })
    }

    /// The format of this broker's channels.
    fn wire_format(&self) -> Arc<dyn WireFormat> {
        Arc::new(NativeFormat)
    }

    /// Where connection state recovery data is kept, for brokers that can
    /// keep data. Without a store each node keeps its own in memory.
    fn session_store(&self) -> Option<Arc<dyn SessionStore>> {
        None
    }
}
