//! A Switchyard cluster [`Broker`](switchyard_cluster::Broker) on Redis
//! pub/sub, with fred.
//!
//! Classic mode uses PUBLISH/SUBSCRIBE; sharded mode uses
//! SPUBLISH/SSUBSCRIBE for Redis Cluster. Broadcasts to a single room go to
//! a room channel that only nodes with members in the room subscribe to
//! (see [`channels`]). The clients reconnect on their own, subscriptions
//! are restored after each reconnection, and outages, recoveries and
//! dropped messages are logged and counted.

mod broker;
pub mod channels;
mod client;
mod config;
mod emitter;
mod incoming;
pub mod node_format;
pub mod node_sharded;
mod store;
mod subscriptions;
mod topology;
mod writer;

pub use broker::RedisBroker;
pub use channels::RedisFormat;
pub use config::{RedisConfig, RedisError};
pub use emitter::{Emitter, EmitterError};
pub use node_format::NodeFormat;
pub use node_sharded::NodeShardedFormat;
