//! `Cluster`: one node's place in the cluster, shared by all its namespaces.
//!
//! It owns the broker connection, reads every incoming message once,
//! decodes it and hands it to the adapter of its namespace, and applies
//! subscription changes in order. It is the server's adapter factory.

use crate::adapter::{AdapterInner, ClusterAdapter};
use crate::broker::{Broker, Channel, Delivery, NodeId};
use crate::directory::Directory;
use crate::format::WireFormat;
use crate::session_store::SessionStore;
use parking_lot::{Mutex, RwLock};
use switchyard_core::limits::WarnGate;

/// Malformed messages are logged at most every few seconds.
static MALFORMED: WarnGate = WarnGate::new();
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use switchyard_core::engine::SessionRouter;
use switchyard_core::{Adapter, AdapterFactory, WeakNamespace};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// Cluster settings, with the defaults of Node's `ClusterAdapterWithHeartbeat`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// How often a node says it is alive. Default 5 s.
    pub heartbeat_interval: Duration,
    /// Silence after which a node is dropped. Default 10 s.
    pub heartbeat_timeout: Duration,
    /// How long requests (fetch_sockets, server-side emits) wait. Default 5 s.
    pub request_timeout: Duration,
    /// A label for this node in logs (`--node-id`).
    pub node_label: Option<String>,
    /// The address (`host:port`) other nodes reach this one at, to forward
    /// requests for its sessions (load balancers without sticky sessions).
    /// Default none: requests for other nodes' sessions are refused.
    pub advertise: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            node_label: None,
            advertise: None,
        }
    }
}

/// This node in the cluster. Pass it to the server as its adapter factory:
/// every namespace gets a [`ClusterAdapter`] over the same broker.
#[derive(Clone)]
pub struct Cluster(pub(crate) Arc<ClusterShared>);

pub(crate) struct ClusterShared {
    pub uid: NodeId,
    pub config: ClusterConfig,
    pub broker: Arc<dyn Broker>,
    pub format: Arc<dyn WireFormat>,
    /// The suffix of this node's session ids.
    pub tag: SmolStr,
    /// Where the other nodes listen.
    pub directory: Directory,
    /// Where recovery data is kept, when the broker can keep data.
    pub store: Option<Arc<dyn SessionStore>>,
    pub runtime: Handle,
    adapters: RwLock<HashMap<SmolStr, Weak<AdapterInner>>>,
    subscriptions: mpsc::UnboundedSender<SubscriptionChange>,
    skipped: AtomicU64,
    /// When this node joined.
    started: std::time::Instant,
    /// Whether another node's message arrived since.
    heard_others: std::sync::atomic::AtomicBool,
    /// Messages taken from the broker, by kind.
    received: Mutex<HashMap<&'static str, u64>>,
}

pub(crate) enum SubscriptionChange {
    Subscribe(Vec<Channel>, Option<oneshot::Sender<bool>>),
    Unsubscribe(Vec<Channel>),
}

impl Cluster {
    /// Joins the cluster through `broker`, whose incoming messages arrive on
    /// `incoming`. Must be called inside a tokio runtime.
    pub fn new(
        broker: Arc<dyn Broker>,
        incoming: mpsc::Receiver<Delivery>,
        config: ClusterConfig,
    ) -> Cluster {
        let (subscriptions, changes) = mpsc::unbounded_channel();
        let uid = random_id();
        let shared = Arc::new(ClusterShared {
            tag: SmolStr::new(&uid[..8]),
            directory: Directory::default(),
            uid,
            config,
            format: broker.wire_format(),
            store: broker.session_store(),
            broker,
            runtime: Handle::current(),
            adapters: RwLock::new(HashMap::new()),
            subscriptions,
            skipped: AtomicU64::new(0),
            started: std::time::Instant::now(),
            heard_others: std::sync::atomic::AtomicBool::new(false),
            received: Mutex::default(),
        });
        tracing::info!(
            node = %shared.uid,
            label = shared.config.node_label.as_deref().unwrap_or(""),
            broker = shared.broker.kind(),
            format = shared.format.name(),
            "joined the cluster"
        );
        tokio::spawn(apply_subscriptions(shared.broker.clone(), changes));
        tokio::spawn(dispatch(Arc::downgrade(&shared), incoming));
        Cluster(shared)
    }

    /// This node's id.
    pub fn uid(&self) -> &NodeId {
        &self.0.uid
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.0.broker
    }

    /// The wire format of the broker's channels.
    pub fn format(&self) -> &Arc<dyn WireFormat> {
        &self.0.format
    }

    /// Whether this node had time to hear the others since it joined: a
    /// moment after the first answer from another node (they answer a
    /// newcomer at once, with where they listen), or two heartbeat
    /// intervals (every node announces itself once per interval, so a node
    /// that missed the answers hears the announcements; a lone node waits
    /// that long). Broadcasts do not count: a node hears them before the
    /// others know it, and knowing nothing of where they listen it would
    /// refuse their clients' sessions as unknown.
    pub fn settled(&self) -> bool {
        self.0.settled()
    }

    /// Whether this node serves its part of the cluster: it settled, the
    /// broker is connected and every namespace's channels are subscribed
    /// (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        self.settled()
            && self.0.broker.connected()
            && self
                .0
                .adapters
                .read()
                .values()
                .filter_map(Weak::upgrade)
                .all(|adapter| adapter.is_subscribed())
    }

    /// How many other nodes this one hears (heartbeat membership, the most
    /// any namespace knows).
    pub fn node_count(&self) -> usize {
        self.0
            .adapters
            .read()
            .values()
            .filter_map(Weak::upgrade)
            .map(|adapter| adapter.node_count())
            .max()
            .unwrap_or(0)
    }

    /// Incoming messages skipped because they were malformed or foreign.
    pub fn skipped_messages(&self) -> u64 {
        self.0.skipped.load(Ordering::Relaxed)
    }

    /// Messages of other nodes taken from the broker, by kind (`broadcast`,
    /// `restore_session`…), since the start.
    pub fn messages_received(&self) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<_> = self
            .0
            .received
            .lock()
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        counts.sort();
        counts
    }
}

/// Forwards requests for other nodes' sessions (see [`ClusterConfig::advertise`]).
impl SessionRouter for Cluster {
    fn tag(&self) -> &str {
        &self.0.tag
    }

    fn owner(&self, tag: &str) -> Option<String> {
        self.0
            .directory
            .address(tag, self.0.config.heartbeat_timeout)
    }

    fn peer(&self) -> Option<String> {
        self.0
            .directory
            .any_other(&self.0.tag, self.0.config.heartbeat_timeout)
    }

    fn settling(&self) -> bool {
        !self.settled()
    }
}

impl AdapterFactory for Cluster {
    fn create(&self, name: &SmolStr, ns: WeakNamespace) -> Arc<dyn Adapter> {
        let adapter = ClusterAdapter::start(self.0.clone(), name.clone(), ns);
        self.0
            .adapters
            .write()
            .insert(name.clone(), Arc::downgrade(&adapter.0));
        Arc::new(adapter)
    }
}

impl ClusterShared {
    /// See [`Cluster::settled`].
    pub(crate) fn settled(&self) -> bool {
        let elapsed = self.started.elapsed();
        elapsed >= self.config.heartbeat_interval * 2
            || (self.heard_others.load(Ordering::Acquire) && elapsed >= SETTLE_AFTER_ANSWER)
    }

    /// Resolves once this node [settled](Cluster::settled): at most two
    /// heartbeat intervals after it started.
    pub(crate) async fn until_settled(&self) {
        while !self.settled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether `body` is how other nodes answer a newcomer: where they
    /// listen, or (when nodes do not forward sessions) their heartbeats.
    fn answers_newcomers(&self, body: &crate::message::Body) -> bool {
        use crate::message::Body;
        match body {
            Body::NodeAddress { .. } => true,
            Body::Heartbeat | Body::InitialHeartbeat => self.config.advertise.is_none(),
            _ => false,
        }
    }

    pub fn subscribe(&self, channels: Vec<Channel>, done: Option<oneshot::Sender<bool>>) {
        if channels.is_empty() {
            if let Some(done) = done {
                let _ = done.send(true);
            }
            return;
        }
        let _ = self
            .subscriptions
            .send(SubscriptionChange::Subscribe(channels, done));
    }

    pub fn unsubscribe(&self, channels: Vec<Channel>) {
        if channels.is_empty() {
            return;
        }
        let _ = self
            .subscriptions
            .send(SubscriptionChange::Unsubscribe(channels));
    }

    pub fn forget(&self, ns: &SmolStr) {
        self.adapters.write().remove(ns);
    }

    /// A recovery request for a namespace this node does not serve gets its
    /// "nothing here" at once, so that the asking node does not wait for
    /// its timeout; other messages for it are ignored.
    fn answer_for_unknown_namespace(&self, message: crate::message::ClusterMessage) {
        use crate::message::{Body, ClusterMessage};
        let (request_id, answer) = match message.body {
            Body::TakeSession { request_id, .. }
            | Body::MissedSince { request_id, .. }
            | Body::RestoreSession { request_id, .. } => (request_id, switchyard_core::Value::Null),
            Body::EvictSession { request_id, .. } => {
                (request_id, switchyard_core::Value::Bool(false))
            }
            _ => {
                tracing::trace!(ns = %message.nsp, "message for a namespace this node does not serve");
                return;
            }
        };
        let reply = ClusterMessage {
            uid: self.uid.clone(),
            nsp: message.nsp,
            body: Body::RestoreSessionResponse {
                request_id,
                session: answer,
            },
        };
        let to = crate::format::Destination::Node(&message.uid);
        if let Some((channel, bytes)) = self.format.encode(&reply, to) {
            self.broker.publish(&channel, bytes);
        }
    }
}

/// How long after the first answer from another node this one counts as
/// settled (the others' addresses arrive together).
const SETTLE_AFTER_ANSWER: Duration = Duration::from_millis(300);

/// Waits before trying a refused subscription again.
const SUBSCRIBE_RETRIES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
];

/// Applies subscription changes one after the other, so that a quick
/// join-leave-join of a room ends subscribed.
async fn apply_subscriptions(
    broker: Arc<dyn Broker>,
    mut changes: mpsc::UnboundedReceiver<SubscriptionChange>,
) {
    while let Some(change) = changes.recv().await {
        match change {
            SubscriptionChange::Subscribe(channels, done) => {
                let mut result = broker.subscribe(channels.clone()).await;
                // A refused subscription is tried again a few times before
                // the joins waiting for it hear it failed.
                for wait in SUBSCRIBE_RETRIES {
                    let Err(e) = &result else { break };
                    tracing::warn!(broker = broker.kind(), error = %e, ?channels, retry_in_ms = wait.as_millis() as u64, "subscription failed: retrying");
                    tokio::time::sleep(wait).await;
                    result = broker.subscribe(channels.clone()).await;
                }
                if let Err(e) = &result {
                    tracing::warn!(broker = broker.kind(), error = %e, ?channels, "subscription failed: the joins waiting for it report it; the broker resubscribes when it reconnects");
                }
                if let Some(done) = done {
                    let _ = done.send(result.is_ok());
                }
            }
            SubscriptionChange::Unsubscribe(channels) => {
                if let Err(e) = broker.unsubscribe(channels.clone()).await {
                    tracing::debug!(broker = broker.kind(), error = %e, ?channels, "unsubscription failed");
                }
            }
        }
    }
}

/// Reads incoming messages in order and hands each to its namespace.
async fn dispatch(shared: Weak<ClusterShared>, mut incoming: mpsc::Receiver<Delivery>) {
    while let Some(delivery) = incoming.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let message = match shared.format.decode(&delivery) {
            Ok(message) => message,
            Err(e) => {
                shared.skipped.fetch_add(1, Ordering::Relaxed);
                if let Some(unreported) = MALFORMED.due() {
                    tracing::warn!(channel = %delivery.channel, error = %e, bytes = delivery.payload.len(), unreported, "skipping a malformed cluster message");
                }
                continue;
            }
        };
        // Everything the broker hands over counts (own echoes too): it is
        // the load interest routing keeps flat as nodes are added.
        let kind = message.body.kind();
        metrics::counter!("switchyard_cluster_messages_received_total", "kind" => kind)
            .increment(1);
        if message.uid == shared.uid {
            continue;
        }
        if shared.answers_newcomers(&message.body) {
            shared.heard_others.store(true, Ordering::Release);
        }
        *shared.received.lock().entry(kind).or_default() += 1;
        let adapter = shared
            .adapters
            .read()
            .get(&message.nsp)
            .and_then(Weak::upgrade);
        match adapter {
            Some(adapter) => adapter.on_message(message),
            None => shared.answer_for_unknown_namespace(message),
        }
    }
    tracing::debug!("broker stream ended");
}

/// 16 random hexadecimal characters, as Node's cluster adapter uses.
pub fn random_id() -> SmolStr {
    let mut bytes = [0u8; 8];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Ids only need to be unique, not secret: fall back to the clock.
        tracing::warn!(error = %e, "no OS randomness for an id");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_be_bytes();
    }
    let mut id = String::with_capacity(16);
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    SmolStr::new(id)
}
