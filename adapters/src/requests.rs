//! Requests waiting for other nodes' answers, by request id.
//!
//! A request expects answers either from named nodes (heartbeat
//! membership: a node that leaves is crossed off, so nothing waits for a
//! node that is gone) or by count (Node's Redis format, whose responses do
//! not say who sent them).

use crate::broker::NodeId;
use crate::message::{Body, RequestId};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use switchyard_core::adapter::AckEvent;
use switchyard_core::{SocketInfo, Value};
use tokio::sync::{mpsc, oneshot};

/// Whose answers a request waits for.
pub(crate) enum Expected {
    /// These nodes'.
    Nodes(HashSet<NodeId>),
    /// This many, from anyone.
    Count(usize),
}

impl Expected {
    fn outstanding(&self) -> usize {
        match self {
            Expected::Nodes(nodes) => nodes.len(),
            Expected::Count(n) => *n,
        }
    }

    /// Counts an answer from `from`; `false` if it was not expected.
    fn answered(&mut self, from: &NodeId) -> bool {
        match self {
            Expected::Nodes(nodes) => nodes.remove(from),
            Expected::Count(0) => false,
            Expected::Count(n) => {
                *n -= 1;
                true
            }
        }
    }
}

enum Waiting {
    /// fetch_sockets or server_side_emit: results gathered here.
    Gather {
        sockets: Vec<SocketInfo>,
        values: Vec<Value>,
        done: Option<oneshot::Sender<()>>,
    },
    /// A broadcast with acks: events go to its collector.
    Acks(mpsc::UnboundedSender<AckEvent>),
}

struct Request {
    expected: Expected,
    /// Named nodes that left without answering: not waited for, still missing.
    gone: usize,
    waiting: Waiting,
}

/// What a gathering request collected.
pub(crate) struct Gathered {
    pub sockets: Vec<SocketInfo>,
    pub values: Vec<Value>,
    /// Answers that never came.
    pub missing: usize,
}

#[derive(Default)]
pub(crate) struct Requests {
    pending: Mutex<HashMap<RequestId, Request>>,
}

impl Requests {
    /// Starts a gathering request; `done` fires once every answer is in.
    pub fn gather(
        &self,
        id: RequestId,
        expected: Expected,
        sockets: Vec<SocketInfo>,
    ) -> oneshot::Receiver<()> {
        metrics::counter!("switchyard_cluster_requests_total").increment(1);
        let (tx, rx) = oneshot::channel();
        let done = if expected.outstanding() == 0 {
            let _ = tx.send(());
            None
        } else {
            Some(tx)
        };
        let waiting = Waiting::Gather {
            sockets,
            values: Vec::new(),
            done,
        };
        self.pending.lock().insert(
            id,
            Request {
                expected,
                gone: 0,
                waiting,
            },
        );
        rx
    }

    /// Ends a gathering request, with what it collected.
    pub fn finish(&self, id: &RequestId) -> Gathered {
        let gathered = self.finish_inner(id);
        if gathered.missing > 0 {
            metrics::counter!("switchyard_cluster_request_timeouts_total").increment(1);
        }
        gathered
    }

    fn finish_inner(&self, id: &RequestId) -> Gathered {
        match self.pending.lock().remove(id) {
            Some(Request {
                expected,
                gone,
                waiting: Waiting::Gather {
                    sockets, values, ..
                },
            }) => Gathered {
                sockets,
                values,
                missing: expected.outstanding() + gone,
            },
            _ => Gathered {
                sockets: Vec::new(),
                values: Vec::new(),
                missing: 0,
            },
        }
    }

    /// Starts a broadcast-with-acks request.
    pub fn acks(&self, id: RequestId, expected: Expected, sink: mpsc::UnboundedSender<AckEvent>) {
        metrics::counter!("switchyard_cluster_requests_total").increment(1);
        self.pending.lock().insert(
            id,
            Request {
                expected,
                gone: 0,
                waiting: Waiting::Acks(sink),
            },
        );
    }

    /// Requests still waiting for answers.
    pub fn len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Forgets a request (its timeout passed).
    pub fn forget(&self, id: &RequestId) {
        self.pending.lock().remove(id);
    }

    /// Records a response from `from`.
    pub fn respond(&self, from: &NodeId, body: Body) {
        metrics::counter!("switchyard_cluster_responses_total").increment(1);
        let Some(id) = body.response_to().cloned() else {
            return;
        };
        let mut pending = self.pending.lock();
        let Some(request) = pending.get_mut(&id) else {
            tracing::trace!(request = %id, "response to an unknown or expired request");
            return;
        };
        match (&mut request.waiting, body) {
            (
                Waiting::Gather { sockets, .. },
                Body::FetchSocketsResponse {
                    sockets: theirs, ..
                },
            ) => {
                if request.expected.answered(from) {
                    sockets.extend(theirs);
                }
            }
            (Waiting::Gather { values, .. }, Body::ServerSideEmitResponse { value, .. })
            | (
                Waiting::Gather { values, .. },
                Body::RestoreSessionResponse { session: value, .. },
            ) => {
                if request.expected.answered(from) {
                    values.push(value);
                }
            }
            (Waiting::Gather { values, .. }, Body::JoinConfirmation { error, .. }) => {
                if request.expected.answered(from) {
                    values.push(error.map_or(Value::Null, Value::String));
                }
            }
            (Waiting::Acks(sink), Body::BroadcastClientCount { count, .. }) => {
                if request.expected.answered(from) {
                    let _ = sink.send(AckEvent::ClientCount(count as usize));
                }
            }
            (Waiting::Acks(sink), Body::BroadcastAck { value, .. }) => {
                let _ = sink.send(AckEvent::Response(value));
            }
            _ => tracing::debug!(request = %id, "response of the wrong kind"),
        }
        Self::complete_if_done(request);
    }

    /// A node is gone: no request waits for it any more.
    pub fn node_gone(&self, node: &NodeId) {
        for request in self.pending.lock().values_mut() {
            if let Expected::Nodes(nodes) = &mut request.expected
                && nodes.remove(node)
            {
                request.gone += 1;
                if let Waiting::Acks(sink) = &request.waiting {
                    let _ = sink.send(AckEvent::NodeGone);
                }
                Self::complete_if_done(request);
            }
        }
    }

    fn complete_if_done(request: &mut Request) {
        if let Waiting::Gather { done, .. } = &mut request.waiting
            && request.expected.outstanding() == 0
            && let Some(done) = done.take()
        {
            let _ = done.send(());
        }
    }
}
