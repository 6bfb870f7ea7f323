//! Who else serves the namespace: heartbeats and silent nodes (heartbeat
//! membership), or the broker's count of subscribers (Node's Redis format).

use super::inner::AdapterInner;
use crate::broker::{Channel, NodeId};
use crate::format::{Destination, Membership};
use crate::message::Body;
use crate::requests::Expected;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How many nodes that said goodbye are remembered.
const DEPARTED: usize = 64;

/// The last nodes that said goodbye, at most [`DEPARTED`] of them (a
/// broker can carry goodbyes from any number of made-up node ids).
#[derive(Default)]
pub(crate) struct Departed(Mutex<VecDeque<NodeId>>);

impl Departed {
    /// Remembers `uid`, forgetting the oldest past the bound.
    fn remember(&self, uid: &NodeId) {
        let mut departed = self.0.lock();
        if !departed.contains(uid) {
            if departed.len() == DEPARTED {
                departed.pop_front();
            }
            departed.push_back(uid.clone());
        }
    }

    /// Whether `uid` said goodbye (among the last remembered).
    fn contains(&self, uid: &NodeId) -> bool {
        self.0.lock().contains(uid)
    }
}

/// The shortest heartbeat interval the loop keeps to.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Sends a heartbeat once the namespace said nothing for a heartbeat
/// interval (as Node's cluster adapter does: every publish postpones it), so
/// other nodes never hear silence longer than the interval from a live node;
/// and drops silent nodes, checked at least every second.
pub(super) async fn heartbeat(weak: std::sync::Weak<AdapterInner>) {
    loop {
        let wake = {
            let Some(inner) = weak.upgrade() else { return };
            let now = tokio::time::Instant::now();
            // A zero interval (set through the library) would spin.
            let interval = inner.cluster.config.heartbeat_interval.max(MIN_INTERVAL);
            let due = *inner.last_broadcast.lock() + interval;
            tokio::time::Instant::from_std(due).clamp(now, now + Duration::from_secs(1))
        };
        tokio::time::sleep_until(wake).await;
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let config = &inner.cluster.config;
        if inner.last_broadcast.lock().elapsed() >= config.heartbeat_interval {
            inner.send(Destination::Everyone, Body::Heartbeat);
            // Not every format carries heartbeats: wait an interval anyway.
            *inner.last_broadcast.lock() = std::time::Instant::now();
        }
        inner.announce_address(false);
        let silent: Vec<NodeId> = inner
            .nodes
            .lock()
            .iter()
            .filter(|(_, seen)| seen.elapsed() > config.heartbeat_timeout)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in silent {
            tracing::warn!(ns = %inner.ns, node = %uid, "node silent past the heartbeat timeout: dropped");
            inner.remove_node(&uid);
        }
    }
}

impl AdapterInner {
    /// A node said goodbye: it is dropped, and remembered as gone.
    pub(super) fn node_left(&self, uid: &NodeId) {
        self.departed.remember(uid);
        self.remove_node(uid);
    }

    /// Whether a node said goodbye.
    pub(super) fn has_departed(&self, uid: &NodeId) -> bool {
        self.departed.contains(uid)
    }

    pub(super) fn remove_node(&self, uid: &NodeId) {
        if self.nodes.lock().remove(uid).is_some() {
            self.requests.node_gone(uid);
            self.forget_presence(uid);
            self.cluster.directory.forget(uid);
        }
    }

    /// The main namespace's adapter tells every node where this node
    /// listens, once per heartbeat interval (or now, with `now`).
    pub(super) fn announce_address(&self, now: bool) {
        let Some(address) = &self.cluster.config.advertise else {
            return;
        };
        if self.ns != "/" {
            return;
        }
        {
            let mut last = self.last_announce.lock();
            if !now && last.elapsed() < self.cluster.config.heartbeat_interval {
                return;
            }
            *last = std::time::Instant::now();
        }
        self.send(
            Destination::Everyone,
            Body::NodeAddress {
                tag: self.cluster.tag.clone(),
                address: address.clone(),
            },
        );
    }

    /// The answers a request to every other node expects.
    /// How many other nodes this namespace hears from.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.lock().len()
    }

    pub(super) async fn expected(&self) -> Expected {
        match self.cluster.format.membership() {
            Membership::Heartbeat => Expected::Nodes(self.nodes.lock().keys().cloned().collect()),
            Membership::RequestSubscribers => {
                Expected::Count(self.server_count().await.saturating_sub(1))
            }
        }
    }

    pub(super) async fn server_count(&self) -> usize {
        match self.cluster.format.membership() {
            Membership::Heartbeat => 1 + self.nodes.lock().len(),
            Membership::RequestSubscribers => {
                match self
                    .cluster
                    .broker
                    .subscriber_count(&Channel::Requests(self.ns.clone()))
                    .await
                {
                    Ok(count) => count.max(1),
                    Err(e) => {
                        tracing::warn!(ns = %self.ns, error = %e, "cannot count the servers: counting this one only");
                        1
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goodbyes_from_any_number_of_node_ids_are_remembered_within_the_bound() {
        let departed = Departed::default();
        let uid = |i: usize| NodeId::from(format!("made-up-{i}"));
        for i in 0..10 * DEPARTED {
            departed.remember(&uid(i));
            departed.remember(&uid(i));
        }
        assert_eq!(departed.0.lock().len(), DEPARTED);
        assert!(
            departed.contains(&uid(10 * DEPARTED - 1)),
            "the latest is kept"
        );
        assert!(!departed.contains(&uid(0)), "the oldest is forgotten");
    }
}
