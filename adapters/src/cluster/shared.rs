//! `ClusterShared`: the state of this node in the cluster that the
//! [`Cluster`](super::Cluster) handle, every namespace's adapter and the
//! dispatch task share.

use super::config::ClusterConfig;
use super::subscriptions::SubscriptionChange;
use crate::adapter::inner::AdapterInner;
use crate::broker::{Broker, Channel, NodeId};
use crate::directory::Directory;
use crate::format::WireFormat;
use crate::session_store::SessionStore;
use parking_lot::{Mutex, RwLock};
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// This node's place in the cluster, behind every [`Cluster`](super::Cluster).
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
    pub(crate) adapters: RwLock<HashMap<SmolStr, Weak<AdapterInner>>>,
    pub(crate) subscriptions: mpsc::UnboundedSender<SubscriptionChange>,
    pub(crate) skipped: AtomicU64,
    /// When this node joined.
    pub(crate) started: std::time::Instant,
    /// Whether another node's message arrived since.
    pub(crate) heard_others: std::sync::atomic::AtomicBool,
    /// Messages taken from the broker, by kind.
    pub(crate) received: Mutex<HashMap<&'static str, u64>>,
}

impl ClusterShared {
    /// See [`Cluster::settled`](super::Cluster::settled).
    pub(crate) fn settled(&self) -> bool {
        let elapsed = self.started.elapsed();
        elapsed >= self.config.heartbeat_interval * 2
            || (self.heard_others.load(Ordering::Acquire) && elapsed >= SETTLE_AFTER_ANSWER)
    }

    /// Resolves once this node [settled](super::Cluster::settled): at most two
    /// heartbeat intervals after it started.
    pub(crate) async fn until_settled(&self) {
        while !self.settled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether `body` is how other nodes answer a newcomer: where they
    /// listen, or (when nodes do not forward sessions) their heartbeats.
    pub(crate) fn answers_newcomers(&self, body: &crate::message::Body) -> bool {
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
    pub(crate) fn answer_for_unknown_namespace(&self, message: crate::message::ClusterMessage) {
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
