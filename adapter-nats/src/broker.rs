//! `NatsBroker`: publish, subscribe, and the connection's life.

use crate::reader::{Control, Stamp, read};
use crate::store::{Kept, NatsStore, StoreNames, ensure_stream};
use crate::subject::subject;
use async_nats::{ConnectOptions, Event};
use bytes::Bytes;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// How to reach NATS.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`, `nats://user:pass@host:4222`,
    /// `tls://host:4222`, or several separated by commas (the seeds of a
    /// NATS cluster: any one reachable is enough).
    pub url: String,
    /// Subject prefix; clusters with different prefixes share one server.
    pub prefix: String,
    /// A `.creds` file (JWT and nkey).
    pub credentials_file: Option<PathBuf>,
    /// An authentication token.
    pub token: Option<String>,
    /// Require TLS.
    pub require_tls: bool,
    /// A CA certificate (PEM) to trust.
    pub root_certificate: Option<PathBuf>,
    /// A client certificate and its key (PEM), for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// The connection's name, shown by the server.
    pub name: Option<String>,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// Replicas of the JetStream streams connection state recovery keeps
    /// (created with this count; 3 on a clustered JetStream keeps them
    /// through the loss of a server). Streams that exist keep theirs.
    pub stream_replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            prefix: "socket.io".into(),
            credentials_file: None,
            token: None,
            require_tls: false,
            root_certificate: None,
            client_certificate: None,
            name: None,
            max_reconnect_delay: Duration::from_secs(2),
            stream_replicas: 1,
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The credentials file could not be read.
    #[error("cannot read the NATS credentials file: {0}")]
    Credentials(#[from] std::io::Error),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
}

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
        let max_delay = config.max_reconnect_delay;
        let mut options = ConnectOptions::new()
            .name(config.name.clone().unwrap_or_else(|| "switchyard".into()))
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .reconnect_delay_callback(move |attempts| {
                Duration::from_millis(attempts as u64 * 100).min(max_delay)
            })
            .event_callback(events(counters.clone()));
        if let Some(path) = &config.credentials_file {
            options = options.credentials_file(path).await?;
        }
        if let Some(token) = &config.token {
            options = options.token(token.clone());
        }
        if config.require_tls {
            options = options.require_tls(true);
        }
        if let Some(ca) = &config.root_certificate {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &config.client_certificate {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let failed = |reason: String| NatsError::Connect {
            url: redact(&config.url),
            reason,
        };
        // A comma-separated list of seeds: any one of them up is enough to
        // start, and the servers announce the rest of their cluster.
        let servers = config
            .url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| url.parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(e.to_string()))?;
        if servers.is_empty() {
            return Err(failed("no server URL".into()));
        }
        let client = options
            .connect(servers)
            .await
            .map_err(|e| failed(e.to_string()))?;
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

/// Counts and logs the connection's life (the callback must stay quick:
/// the client drops events it cannot queue).
fn events(
    counters: Arc<BrokerCounters>,
) -> impl Fn(Event) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
    let connected_before = Arc::new(AtomicBool::new(false));
    move |event| {
        let counters = counters.clone();
        let connected_before = connected_before.clone();
        Box::pin(async move {
            match event {
                Event::Connected => {
                    if connected_before.swap(true, Ordering::AcqRel) {
                        counters.recovery();
                        tracing::info!(
                            broker = "nats",
                            "reconnected to NATS; subscriptions restored"
                        );
                    }
                }
                Event::Disconnected => {
                    counters.outage();
                    tracing::warn!(
                        broker = "nats",
                        "connection to NATS lost; reconnecting (local delivery goes on)"
                    );
                }
                Event::SlowConsumer(_) => {
                    counters.lost(1);
                    tracing::warn!(
                        broker = "nats",
                        "slow consumer: NATS dropped an incoming message"
                    );
                }
                Event::ServerError(e) => {
                    tracing::warn!(broker = "nats", error = %e, "NATS server error")
                }
                Event::ClientError(e) => {
                    tracing::debug!(broker = "nats", error = %e, "NATS client error")
                }
                other => tracing::debug!(broker = "nats", event = %other, "NATS event"),
            }
        })
    }
}

/// Messages taken from the queue at once.
const BATCH: usize = 256;

/// Publishes queued messages in order, recovery data first: what is queued
/// together is taken as a batch, its recovery data is published to
/// JetStream and acknowledged, and only then are its messages published. A
/// packet is thus in the stream before any node can receive it live, so a
/// recovery that reads the stream after its socket joined its rooms misses
/// nothing (a live copy it did not get is in the stream).
async fn write(
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
                Outgoing::Flushed(done) => {
                    let _ = client.flush().await;
                    let _ = done.send(());
                }
                Outgoing::Keep { .. } => {}
            }
        }
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

fn redact(urls: &str) -> String {
    urls.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
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
