//! Building the fred clients for a [`RedisConfig`]: reconnection, command
//! timeouts and cluster discovery, and refusing a Redis Cluster node
//! reached with a plain `redis://` URL.

use crate::channels::RedisFormat;
use crate::config::{RedisConfig, RedisError, redact};
use fred::clients::Client;
use fred::prelude::*;
use fred::types::config::{ClusterDiscoveryPolicy, ReconnectPolicy};
use fred::types::{ClusterHash, CustomCommand};
use std::time::Duration;

/// fred's message ring (default 32); a lag there loses messages.
const MESSAGE_RING: usize = 16_384;
/// The longest wait between reconnections to a Redis Cluster.
const CLUSTER_MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A command fred has no method for, keyed by its first argument.
pub(crate) fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

/// A plain `redis://` URL that reaches a node of a Redis Cluster would
/// fail later with MOVED errors on most commands: refused at start with
/// the URL form that works.
pub(crate) async fn refuse_a_cluster_node(client: &Client) -> Result<(), String> {
    if client.is_clustered() {
        return Ok(());
    }
    // Servers that refuse INFO (some managed ones) are taken as they are.
    let info: String = match client.custom(command("INFO"), vec!["cluster"]).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "INFO cluster refused");
            return Ok(());
        }
    };
    if info.lines().any(|line| line.trim() == "cluster_enabled:1") {
        return Err("this server is a node of a Redis Cluster: connect with \
             redis-cluster://host:port?node=host2:port2&node=host3:port3 \
             (a plain redis:// URL reaches one node and fails with MOVED)"
            .into());
    }
    Ok(())
}

/// A fred client builder for `config`: reconnecting, at most once per
/// command, no Nagle delay.
pub(crate) fn builder(config: &RedisConfig) -> Result<Builder, RedisError> {
    if config.sharded && config.format == RedisFormat::Node {
        return Err(RedisError::new(
            &config.url,
            "Node's classic adapter has no sharded pub/sub: use the NodeSharded format (Node's createShardedAdapter) or the Switchyard format".into(),
        ));
    }
    let mut redis_config =
        Config::from_url(&config.url).map_err(|e| RedisError::new(&config.url, e.to_string()))?;
    let mut max_reconnect_delay = config.max_reconnect_delay;
    if redis_config.server.is_clustered() {
        // A failover takes a few seconds; retrying at most every second
        // finds the promoted replica soon after, not up to 5 s later.
        max_reconnect_delay = max_reconnect_delay.min(CLUSTER_MAX_RECONNECT_DELAY);
        // Find the cluster through every node last seen, not only the
        // seeds: a node whose seeds all died still finds the promoted
        // replicas.
        let _ = redis_config
            .server
            .set_cluster_discovery_policy(ClusterDiscoveryPolicy::UseCache);
    } else if config.is_sharded() {
        tracing::warn!(broker = "redis", url = %redact(&config.url), "sharded pub/sub without a redis-cluster:// URL: fine on one server, but a Redis Cluster needs redis-cluster://host:port?node=host2:port2");
    }
    let max_delay = max_reconnect_delay.as_millis().min(u128::from(u32::MAX)) as u32;
    let mut builder = Builder::from_config(redis_config);
    builder
        // Without a policy a lost connection leaves commands hanging.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, max_delay, 2))
        .with_performance_config(|p| {
            p.broadcast_channel_capacity = MESSAGE_RING;
            p.default_command_timeout = config.command_timeout;
        })
        .with_connection_config(|c| {
            // A publish in flight when the connection drops is not sent
            // again: at most once, never twice.
            c.max_command_attempts = 1;
            c.tcp.nodelay = Some(true);
        });
    Ok(builder)
}
