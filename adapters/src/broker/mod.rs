//! `Broker`: the one thing a broker crate implements.
//!
//! A broker moves opaque bytes between the nodes of a cluster: it publishes
//! to a logical [`Channel`], subscribes to channels, hands every message it
//! receives to the cluster, and survives outages on its own (reconnect,
//! resubscribe, log and count what happened). How a channel is named on the
//! wire (a Redis channel, a NATS subject, an AMQP routing key) is the broker
//! crate's choice.

pub(crate) mod channel;
pub(crate) mod error;
mod stats;

pub use channel::{Channel, Delivery, NodeId};
pub use error::{BoxFuture, BrokerError};
pub use stats::{BrokerCounters, BrokerStats};

use crate::format::{NativeFormat, WireFormat};
use crate::session_store::SessionStore;
use bytes::Bytes;
use std::sync::Arc;

/// Records how long handing messages to the broker took
/// (`switchyard_broker_publish_seconds{broker}`), from `started`.
pub fn record_publish(broker: &'static str, started: std::time::Instant) {
    metrics::histogram!("switchyard_broker_publish_seconds", "broker" => broker)
        .record(started.elapsed().as_secs_f64());
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
