//! `/healthz` and `/readyz`.
//!
//! `/healthz` answers 200 while the process runs. `/readyz` answers 200
//! while the node should get new clients: not draining and, in a cluster,
//! settled (it heard the other nodes), connected to its broker and
//! subscribed; 503 otherwise, with the reason. Load balancers check
//! `/readyz` (see `deploy/haproxy-roundrobin.cfg`).

use axum::http::StatusCode;
use switchyard_cluster::Cluster;
use switchyard_core::SocketIo;

/// Why the node is not ready, if it is not.
pub fn not_ready(io: &SocketIo, cluster: Option<&Cluster>) -> Option<&'static str> {
    if io.is_draining() {
        return Some("draining");
    }
    let cluster = cluster?;
    if !cluster.settled() {
        return Some("joining the cluster");
    }
    if !cluster.broker().connected() {
        return Some("broker unreachable");
    }
    if !cluster.is_ready() {
        return Some("subscribing");
    }
    None
}

/// The `/readyz` answer.
pub fn readyz(io: &SocketIo, cluster: Option<&Cluster>) -> (StatusCode, &'static str) {
    match not_ready(io, cluster) {
        None => (StatusCode::OK, "ready"),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_single_node_is_ready_until_it_drains() {
        let io = SocketIo::default();
        assert_eq!(readyz(&io, None), (StatusCode::OK, "ready"));
        io.drain();
        assert_eq!(
            readyz(&io, None),
            (StatusCode::SERVICE_UNAVAILABLE, "draining")
        );
    }
}
