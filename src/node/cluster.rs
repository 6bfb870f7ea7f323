//! Joining a cluster through the broker the flags name.

use super::{AdapterKind, Cli, NodeError, RedisFormatKind};
use std::sync::Arc;
use std::time::Duration;
use switchyard_cluster::{Broker, Cluster, ClusterConfig};
use switchyard_redis::RedisFormat;

/// Connects to the configured broker; `None` for the in-memory adapter.
pub async fn join(cli: &Cli) -> Result<Option<Cluster>, NodeError> {
    let broker_error = |e: &dyn std::fmt::Display| NodeError::Broker(e.to_string());
    let (broker, incoming): (Arc<dyn Broker>, _) = match cli.adapter {
        AdapterKind::Memory => return Ok(None),
        AdapterKind::Redis => {
            let config = switchyard_redis::RedisConfig {
                url: cli.redis_url.clone(),
                prefix: cli.prefix.clone(),
                sharded: cli.redis_sharded,
                format: match cli.redis_format {
                    Some(RedisFormatKind::Node) if cli.redis_sharded => RedisFormat::NodeSharded,
                    Some(RedisFormatKind::Node) => RedisFormat::Node,
                    Some(RedisFormatKind::Switchyard) => RedisFormat::Switchyard,
                    None if cli.redis_sharded => RedisFormat::Switchyard,
                    None => RedisFormat::Node,
                },
                specific_response_channel: cli.redis_specific_response_channel,
                ..Default::default()
            };
            let (broker, incoming) = switchyard_redis::RedisBroker::connect(config)
                .await
                .map_err(|e| broker_error(&e))?;
            (Arc::new(broker), incoming)
        }
        AdapterKind::Nats => {
            let config = switchyard_nats::NatsConfig {
                url: cli.nats_url.clone(),
                prefix: cli.prefix.clone(),
                credentials_file: cli.nats_credentials.clone(),
                name: cli.node_id.clone(),
                stream_replicas: usize::from(cli.nats_stream_replicas),
                ..Default::default()
            };
            let (broker, incoming) = switchyard_nats::NatsBroker::connect(config)
                .await
                .map_err(|e| broker_error(&e))?;
            (Arc::new(broker), incoming)
        }
        AdapterKind::Amqp => {
            let config = switchyard_amqp::AmqpConfig {
                url: cli.amqp_url.clone(),
                prefix: cli.prefix.clone(),
                ..Default::default()
            };
            let (broker, incoming) = switchyard_amqp::AmqpBroker::connect(config)
                .await
                .map_err(|e| broker_error(&e))?;
            (Arc::new(broker), incoming)
        }
    };
    let config = ClusterConfig {
        heartbeat_interval: Duration::from_millis(cli.heartbeat_interval),
        heartbeat_timeout: Duration::from_millis(cli.heartbeat_timeout),
        request_timeout: Duration::from_millis(cli.request_timeout),
        node_label: cli.node_id.clone(),
        advertise: cli.advertised_address(),
    };
    Ok(Some(Cluster::new(broker, incoming, config)))
}
