//! A Switchyard cluster [`Broker`](switchyard_cluster::Broker) on RabbitMQ
//! (AMQP 0.9.1, with lapin).
//!
//! Each namespace is a topic exchange; each node consumes from one
//! exclusive, auto-deleted queue bound to the routing keys of its channels
//! (see [`naming`]), with a bounded prefetch. A supervisor reconnects after
//! an outage and rebuilds the queue and its bindings; outages and
//! recoveries are logged and counted.

mod broker;
mod config;
mod connection;
pub mod naming;
mod publisher;
mod supervisor;

pub use broker::AmqpBroker;
pub use config::{AmqpConfig, AmqpError};
