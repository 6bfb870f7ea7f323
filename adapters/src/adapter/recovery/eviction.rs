//! Evicting the old socket of a client that came back, wherever it still
//! looks connected, so that its session is kept and can be taken.

use crate::adapter::inner::AdapterInner;
use crate::broker::NodeId;
use crate::format::Destination;
use crate::message::{Body, RequestId};
use smol_str::SmolStr;
use std::sync::Arc;
use switchyard_core::{Sid, Value};

impl AdapterInner {
    /// Closes the connection of the socket with this pid wherever it still
    /// looks connected (its client came back), so that its session is
    /// kept; whether the session may be taken now: a socket was found, or
    /// every node flushed the store (a socket that had just left has its
    /// session there now). Without a store and without a socket found,
    /// asking again could find nothing new.
    pub(in crate::adapter) async fn evict_session(self: Arc<Self>, pid: Sid) -> bool {
        let flushed = self.cluster.store.is_some();
        if self.evict_here(&pid).await {
            return true;
        }
        // A node that just started may not know the others yet: the old
        // socket would stay open elsewhere, and its session untaken.
        self.cluster.until_settled().await;
        let alone = self.nodes.lock().is_empty();
        if alone {
            return flushed;
        }
        let pid_text = SmolStr::new(pid.as_str());
        let found = self
            .ask_everyone(|request_id| Body::EvictSession {
                pid: pid_text,
                request_id,
            })
            .await
            == Value::Bool(true);
        found || flushed
    }

    /// Evicts a socket of this node; once evicted, its session is in the
    /// store (flushed) or in this node's memory. The store is flushed even
    /// when there was nothing to evict: the socket may have just left, its
    /// session still on its way there.
    async fn evict_here(&self, pid: &str) -> bool {
        let evicted = self.local.evict(pid);
        if self.cluster.store.is_some() {
            self.cluster.broker.flush().await;
        }
        evicted
    }

    /// Another node asks this one to evict a socket.
    pub(in crate::adapter) fn answer_evict(
        self: &Arc<Self>,
        from: NodeId,
        request_id: RequestId,
        pid: SmolStr,
    ) {
        let inner = self.clone();
        self.cluster.runtime.spawn(async move {
            let evicted = inner.evict_here(&pid).await;
            inner.send(
                Destination::Node(&from),
                Body::RestoreSessionResponse {
                    request_id,
                    session: Value::Bool(evicted),
                },
            );
        });
    }
}
