//! `NatsBroker`: publish, subscribe, and the connection's life.

use crate::config::{NatsConfig, NatsError};
use crate::connection::{connect_client, redact};
use crate::reader::{Control, read};
use crate::store::{NatsStore, StoreNames};
use crate::subject::subject;
use crate::writer::{Outgoing, write};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_cluster::broker::BoxFuture;
use switchyard_cluster::{
    Broker, BrokerCounters, BrokerError, BrokerStats, Channel, Delivery, SessionStore,
};
use tokio::sync::{mpsc, oneshot};

/// Messages waiting to be published; past this, new ones are dropped and counted.
const OUTGOING_CAPACITY: usize = 16_384;
/// Messages received and not yet taken by the cluster.
const INCOMING_CAPACITY: usize = 8_192;
/// How long closing waits for queued messages to go out.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// A cluster broker on NATS.
pub struct NatsBroker {
    client: async_nats::Client,
    prefix: String,
    counters: Arc<BrokerCounters>,
    outgoing: mpsc::Sender<Outgoing>,
    store: Arc<NatsStore>,
    /// Hands subscriptions to the ordered reader.
    reader: mpsc::UnboundedSender<Control>,
    /// The subjects subscribed to.
    subscriptions: Arc<tokio::sync::Mutex<HashSet<String>>>,
    last_drop_warning: AtomicU64,
    started: Instant,
}

impl NatsBroker {
    /// Connects; incoming messages arrive on the returned receiver.
    pub async fn connect(
        config: NatsConfig,
    ) -> Result<(NatsBroker, mpsc::Receiver<Delivery>), NatsError> {
        let counters = Arc::new(BrokerCounters::default());
        let client = connect_client(&config, &counters).await?;
        tracing::info!(broker = "nats", url = %redact(&config.url), prefix = %config.prefix, "connected to NATS");
        let (outgoing, queue) = mpsc::channel(OUTGOING_CAPACITY);
        let names = StoreNames::new(&config.prefix);
        let jetstream = async_nats::jetstream::new(client.clone());
        tokio::spawn(write(
            client.clone(),
            queue,
            counters.clone(),
            (
                jetstream.clone(),
                names.clone(),
                config.stream_replicas.max(1),
            ),
        ));
        let store = Arc::new(NatsStore {
            names,
            outgoing: outgoing.clone(),
            jetstream,
            counters: counters.clone(),
        });
        let (incoming, deliveries) = mpsc::channel(INCOMING_CAPACITY);
        let (reader, control) = mpsc::unbounded_channel();
        tokio::spawn(read(control, incoming));
        let broker = NatsBroker {
            client,
            prefix: config.prefix,
            counters,
            outgoing,
            store,
            reader,
            subscriptions: Arc::new(tokio::sync::Mutex::new(HashSet::new())),
            last_drop_warning: AtomicU64::new(0),
            started: Instant::now(),
        };
        Ok((broker, deliveries))
    }
}

/// Resolves once the server processed everything this client sent before
/// (the subscriptions above included). `flush` only writes the socket; a
/// request to a subject no one serves comes back as "no responders" from
/// the server, after it read what came before it on the connection.
async fn round_trip(client: &async_nats::Client, nobody: &str) -> Result<(), BrokerError> {
    use async_nats::RequestErrorKind;
    match client.request(nobody.to_owned(), Bytes::new()).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(BrokerError::Unavailable(format!(
            "the server did not confirm the subscription: {e}"
        ))),
    }
}

impl Broker for NatsBroker {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn publish(&self, channel: &Channel, payload: Bytes) {
        if self
            .outgoing
            .try_send(Outgoing::Message(subject(&self.prefix, channel), payload))
            .is_err()
        {
            self.counters.publish_failure();
            // One warning per second at most: an outage can drop many.
            let now = self.started.elapsed().as_secs();
            if self.last_drop_warning.swap(now, Ordering::Relaxed) != now {
                tracing::warn!(
                    broker = "nats",
                    dropped = self.counters.snapshot().publish_failures,
                    "publish queue full: message dropped"
                );
            }
        }
    }

    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        let subjects: Vec<String> = channels.iter().map(|c| subject(&self.prefix, c)).collect();
        let client = self.client.clone();
        let reader = self.reader.clone();
        let subscriptions = self.subscriptions.clone();
        let sync = format!("{}._sync", crate::subject::token(&self.prefix));
        Box::pin(async move {
            let mut subscriptions = subscriptions.lock().await;
            let mut added = false;
            for subject in subjects {
                if subscriptions.contains(&subject) {
                    continue;
                }
                let subscriber = client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|e| BrokerError::Unavailable(e.to_string()))?;
                if reader
                    .send(Control::Add(subject.clone(), subscriber))
                    .is_err()
                {
                    return Err(BrokerError::Closed);
                }
                subscriptions.insert(subject);
                added = true;
            }
            if added {
                round_trip(&client, &sync).await?;
            }
            Ok(())
        })
    }

    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        let subjects: Vec<String> = channels.iter().map(|c| subject(&self.prefix, c)).collect();
        let reader = self.reader.clone();
        let subscriptions = self.subscriptions.clone();
        Box::pin(async move {
            let mut subscriptions = subscriptions.lock().await;
            for subject in subjects {
                if subscriptions.remove(&subject) {
                    let _ = reader.send(Control::Remove(subject));
                }
            }
            Ok(())
        })
    }

    fn stats(&self) -> BrokerStats {
        self.counters.snapshot()
    }

    fn session_store(&self) -> Option<Arc<dyn SessionStore>> {
        Some(self.store.clone())
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
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
        let client = self.client.clone();
        let outgoing = self.outgoing.clone();
        Box::pin(async move {
            // Queued messages (a goodbye to the cluster) go out first.
            let (done, flushed) = oneshot::channel();
            if outgoing.send(Outgoing::Flushed(done)).await.is_ok() {
                let _ = tokio::time::timeout(FLUSH_WAIT, flushed).await;
            }
            let _ = client.drain().await;
        })
    }
}
