//! A Switchyard cluster [`Broker`](switchyard_cluster::Broker) on NATS.
//!
//! Connect with [`NatsBroker::connect`] and hand the broker to
//! `switchyard_cluster::Cluster`. Subjects are per namespace and per node
//! (see [`subject`]); the client reconnects on its own and restores
//! subscriptions; outages, recoveries and slow-consumer drops are logged and
//! counted in [`switchyard_cluster::BrokerStats`]. Connection state
//! recovery data is kept in JetStream (a stream and a key-value bucket).

mod broker;
mod config;
mod connection;
mod reader;
mod store;
pub mod subject;
mod writer;

pub use broker::NatsBroker;
pub use config::{NatsConfig, NatsError};
