//! Counting subscribers on a Redis Cluster.
//!
//! `PUBSUB NUMSUB` counts the subscribers of one cluster node only, while
//! classic subscribers sit on any node (fred puts its subscriber on one
//! primary, ioredis on a random node, replicas included). So on a cluster
//! the count is summed over every node `CLUSTER NODES` lists as reachable,
//! each asked over its own connection, as Node's adapter does.

use fred::clients::Client;
use fred::error::Error;
use fred::interfaces::{ClientLike, PubsubInterface};
use fred::types::Builder;
use fred::types::config::ServerConfig;
use std::collections::HashMap;

/// A node's address, as `CLUSTER NODES` gives it.
pub(crate) type NodeAddress = (String, u16);

/// More nodes than this and the connections are made again.
const MAX_NODES: usize = 64;
/// How long one node may take to answer.
const NODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The nodes of a `CLUSTER NODES` reply that may hold subscribers: those
/// with an address and neither failed nor in a handshake.
pub(crate) fn reachable_nodes(reply: &str) -> Vec<NodeAddress> {
    reply
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let _id = fields.next()?;
            let address = fields.next()?;
            let flags = fields.next()?;
            let unusable = flags
                .split(',')
                .any(|flag| matches!(flag, "fail" | "fail?" | "noaddr" | "handshake"));
            if unusable {
                return None;
            }
            // ip:port@cport[,hostname]
            let host_port = address.split(['@', ',']).next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            if host.is_empty() || port == 0 {
                return None;
            }
            Some((host.trim_matches(['[', ']']).to_owned(), port))
        })
        .collect()
}

/// One connection per cluster node, made when first needed.
pub(crate) struct NodeClients {
    builder: Builder,
    clients: tokio::sync::Mutex<HashMap<NodeAddress, Client>>,
}

impl NodeClients {
    /// Connections configured as `builder`'s (TLS, credentials, timeouts).
    pub(crate) fn new(builder: Builder) -> NodeClients {
        NodeClients {
            builder,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The subscribers of `channel` over every reachable node of the cluster
    /// `any` belongs to; a node that cannot be asked counts none.
    pub(crate) async fn numsub(&self, any: &Client, channel: &str) -> Result<usize, Error> {
        let reply: String = any
            .custom(
                fred::types::CustomCommand::new_static(
                    "CLUSTER",
                    fred::types::ClusterHash::Random,
                    false,
                ),
                vec!["NODES"],
            )
            .await?;
        let nodes = reachable_nodes(&reply);
        let mut total = 0;
        for node in nodes {
            match self.ask(&node, channel).await {
                Ok(count) => total += count,
                Err(e) => {
                    tracing::debug!(broker = "redis", node = %format!("{}:{}", node.0, node.1), error = %e, "cannot count this node's subscribers");
                    if let Some(client) = self.clients.lock().await.remove(&node) {
                        let _ = client.quit().await;
                    }
                }
            }
        }
        Ok(total)
    }

    async fn ask(&self, node: &NodeAddress, channel: &str) -> Result<usize, Error> {
        let client = self.client(node).await?;
        let reply: Vec<fred::types::Value> = client.pubsub_numsub(channel).await?;
        Ok(reply
            .get(1)
            .and_then(fred::types::Value::as_u64)
            .unwrap_or(0) as usize)
    }

    async fn client(&self, node: &NodeAddress) -> Result<Client, Error> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(node) {
            return Ok(client.clone());
        }
        if clients.len() >= MAX_NODES {
            for (_, client) in clients.drain() {
                let _ = client.quit().await;
            }
        }
        let mut builder = self.builder.clone();
        let mut config = builder.get_config().cloned().unwrap_or_default();
        config.server = ServerConfig::new_centralized(node.0.clone(), node.1);
        // A node that went away fails the count soon instead of holding a
        // cluster request for its whole timeout.
        config.fail_fast = true;
        builder.set_config(config);
        builder
            .with_connection_config(|c| c.max_command_attempts = 1)
            .with_performance_config(|p| p.default_command_timeout = NODE_TIMEOUT);
        let client = builder.build()?;
        client.init().await?;
        clients.insert(node.clone(), client.clone());
        Ok(client)
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        for (_, client) in self.clients.lock().await.drain() {
            let _ = client.quit().await;
        }
    }
}

/// The subscribers of `channel`: SHARDNUMSUB for sharded pub/sub (a shard
/// channel lives on one shard), NUMSUB summed over `nodes` on a cluster
/// with classic pub/sub, NUMSUB on one server.
pub(crate) async fn count_subscribers(
    client: &Client,
    nodes: Option<&NodeClients>,
    sharded: bool,
    channel: String,
) -> Result<usize, String> {
    if let (Some(nodes), false) = (nodes, sharded) {
        return nodes
            .numsub(client, &channel)
            .await
            .map_err(|e| e.to_string());
    }
    // [channel, count]
    let reply: Result<Vec<fred::types::Value>, Error> = if sharded {
        client.pubsub_shardnumsub(channel).await
    } else {
        client.pubsub_numsub(channel).await
    };
    let reply = reply.map_err(|e| e.to_string())?;
    reply
        .get(1)
        .and_then(fred::types::Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| format!("unexpected NUMSUB reply {reply:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachable_nodes_skip_failed_and_addressless_ones() {
        let reply = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host-2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master,fail - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 myself,master - 0 1426238316232 5 connected 0-5460
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 :0@0 master,noaddr - 1426238316232 0 0 disconnected
aaaa ::1:30006@31006 slave,fail? 6ec2 0 1 5 connected
bbbb ::1:30007@31007 slave 6ec2 0 1 5 connected
short line
";
        assert_eq!(
            reachable_nodes(reply),
            vec![
                ("127.0.0.1".to_owned(), 30004),
                ("127.0.0.1".to_owned(), 30002),
                ("127.0.0.1".to_owned(), 30005),
                ("::1".to_owned(), 30007),
            ]
        );
        assert!(reachable_nodes("").is_empty());
    }
}
