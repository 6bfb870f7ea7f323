//! `ClusterConfig`: heartbeats, request timeouts and how other nodes
//! reach this one.

use std::time::Duration;

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
