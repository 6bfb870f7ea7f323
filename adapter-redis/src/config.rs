//! `RedisConfig`: how to reach Redis and which wire format to speak, and
//! `RedisError`, why the broker (or an emitter) could not start.

use crate::channels::RedisFormat;
use crate::node_format::NodeFormat;
use crate::node_sharded::NodeShardedFormat;
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::{NativeFormat, WireFormat};

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// `redis-cluster://` for a cluster.
    pub url: String,
    /// Channel prefix (Node's `key`); clusters with different prefixes share a server.
    pub prefix: String,
    /// SPUBLISH/SSUBSCRIBE (sharded pub/sub, for Redis Cluster), with
    /// [`RedisFormat::Switchyard`]; [`RedisFormat::NodeSharded`] is always
    /// sharded, and [`RedisFormat::Node`] never (Node's classic adapter).
    pub sharded: bool,
    /// The wire format: Node's `@socket.io/redis-adapter` (the default, so
    /// Node.js servers and emitters share the cluster) or Switchyard's own.
    pub format: RedisFormat,
    /// In the Node format, answer requests on the requester's own response
    /// channel (Node's `publishOnSpecificResponseChannel`). Every server of
    /// the cluster must agree on it.
    pub specific_response_channel: bool,
    /// Longest wait between reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// How long a command may wait (during an outage, publishes fail after this).
    pub command_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "socket.io".into(),
            sharded: false,
            format: RedisFormat::Node,
            specific_response_channel: false,
            max_reconnect_delay: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisConfig {
    /// The format of the channels, as this configuration chooses it.
    pub fn wire_format(&self) -> Arc<dyn WireFormat> {
        match self.format {
            RedisFormat::Node => Arc::new(NodeFormat::new(
                self.prefix.clone(),
                self.specific_response_channel,
            )),
            RedisFormat::Switchyard => Arc::new(NativeFormat),
            RedisFormat::NodeSharded => Arc::new(NodeShardedFormat::new(self.prefix.clone())),
        }
    }

    /// Whether messages go through sharded pub/sub.
    pub fn is_sharded(&self) -> bool {
        self.sharded || self.format == RedisFormat::NodeSharded
    }
}

/// Why the broker (or an emitter) could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Redis at {url}: {reason}")]
pub struct RedisError {
    url: String,
    reason: String,
}

impl RedisError {
    pub(crate) fn new(url: &str, reason: String) -> Self {
        RedisError {
            url: redact(url),
            reason,
        }
    }
}

pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}
