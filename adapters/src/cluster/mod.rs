//! `Cluster`: one node's place in the cluster, shared by all its namespaces.
//!
//! It owns the broker connection, reads every incoming message once,
//! decodes it and hands it to the adapter of its namespace (on several
//! workers, each publisher's messages in order), and applies subscription
//! changes in order. It is the server's adapter factory.

mod config;
mod dispatch;
#[cfg(all(test, feature = "conformance"))]
mod dispatch_tests;
mod routing;
pub(crate) mod shared;
mod subscriptions;

pub use config::ClusterConfig;

use crate::adapter::ClusterAdapter;
use crate::broker::{Broker, Delivery, NodeId};
use crate::directory::Directory;
use crate::format::WireFormat;
use crate::random_id::random_id;
use dispatch::{default_workers, dispatch};
use parking_lot::{Mutex, RwLock};
use shared::ClusterShared;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use subscriptions::apply_subscriptions;
use switchyard_core::engine::SessionRouter;
use switchyard_core::{Adapter, AdapterFactory, LocalAdapter};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// This node in the cluster. Pass it to the server as its adapter factory:
/// every namespace gets a [`ClusterAdapter`] over the same broker.
#[derive(Clone)]
pub struct Cluster(pub(crate) Arc<ClusterShared>);

impl Cluster {
    /// Joins the cluster through `broker`, whose incoming messages arrive on
    /// `incoming`. Must be called inside a tokio runtime. Incoming messages
    /// are decoded and delivered by one worker per worker thread of the
    /// runtime, each publisher's in order.
    pub fn new(
        broker: Arc<dyn Broker>,
        incoming: mpsc::Receiver<Delivery>,
        config: ClusterConfig,
    ) -> Cluster {
        Cluster::with_dispatch_workers(broker, incoming, config, default_workers())
    }

    /// [`Cluster::new`] with `workers` tasks decoding and delivering
    /// incoming messages (at least one). One publisher's messages are
    /// handled by one worker at a time, in arrival order; messages whose
    /// publisher the [`WireFormat`] cannot peek all go to one worker.
    pub fn with_dispatch_workers(
        broker: Arc<dyn Broker>,
        incoming: mpsc::Receiver<Delivery>,
        config: ClusterConfig,
        workers: usize,
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
            dispatch_workers = workers.max(1),
            "joined the cluster"
        );
        tokio::spawn(apply_subscriptions(shared.broker.clone(), changes));
        tokio::spawn(dispatch(Arc::downgrade(&shared), incoming, workers));
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
    fn create(&self, local: Arc<LocalAdapter>) -> Arc<dyn Adapter> {
        let name = local.name().clone();
        let adapter = ClusterAdapter::start(self.0.clone(), local);
        self.0
            .adapters
            .write()
            .insert(name.clone(), Arc::downgrade(&adapter.0));
        Arc::new(adapter)
    }
}
