//! Asking other nodes for what they keep: the node a private session id
//! names first, then every node.

use crate::adapter::inner::AdapterInner;
use crate::broker::NodeId;
use crate::format::Destination;
use crate::message::{Body, RequestId};
use crate::random_id::random_id;
use crate::requests::Expected;
use switchyard_core::{Sid, Value};

impl AdapterInner {
    /// The live node that keeps a session, as its pid names it
    /// (`<random>.<tag>`, see `new_pid`); `None` for this node or none.
    fn keeper_of(&self, pid: &str) -> Option<NodeId> {
        let tag = switchyard_core::engine::tag_of(pid)?;
        if tag == self.cluster.tag.as_str() {
            return None;
        }
        self.nodes
            .lock()
            .keys()
            .find(|node| node.as_str().starts_with(tag))
            .cloned()
    }

    /// Sends one request to one node and waits for its answer (null when
    /// it has none or does not answer in time).
    async fn ask(&self, node: NodeId, body: impl Fn(RequestId) -> Body) -> Value {
        let id = random_id();
        let done = self.requests.gather(
            id.clone(),
            Expected::Nodes([node.clone()].into_iter().collect()),
            Vec::new(),
        );
        self.send(Destination::Node(&node), body(id.clone()));
        let _ = tokio::time::timeout(self.cluster.config.request_timeout, done).await;
        self.requests
            .finish(&id)
            .values
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    }

    /// Sends one request to every node and returns the first answer that is
    /// not null (or null once all answered or the timeout passed).
    pub(super) async fn ask_everyone(&self, body: impl FnOnce(RequestId) -> Body) -> Value {
        let id = random_id();
        let nodes = self.nodes.lock().keys().cloned().collect();
        let done = self
            .requests
            .gather(id.clone(), Expected::Nodes(nodes), Vec::new());
        self.send(Destination::Everyone, body(id.clone()));
        let _ = tokio::time::timeout(self.cluster.config.request_timeout, done).await;
        self.requests
            .finish(&id)
            .values
            .into_iter()
            .find(|v| !v.is_null() && *v != Value::Bool(false))
            .unwrap_or(Value::Null)
    }

    /// Asks the node a pid names; when it has nothing, or the pid names no
    /// live node (the session was recovered on another node since, which
    /// keeps it now, or the node that made it was restarted), every node,
    /// in one request that each answers at once.
    pub(super) async fn ask_keeper(&self, pid: &Sid, body: impl Fn(RequestId) -> Body) -> Value {
        if let Some(keeper) = self.keeper_of(pid) {
            let answer = self.ask(keeper, &body).await;
            if !answer.is_null() {
                return answer;
            }
        }
        if self.nodes.lock().is_empty() {
            return Value::Null;
        }
        self.ask_everyone(body).await
    }
}
