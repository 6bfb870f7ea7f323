//! Switchyard cluster: many server processes behaving as one.
//!
//! [`ClusterAdapter`] implements the core `Adapter` trait once for every
//! broker, with the message set of Node's `ClusterAdapterWithHeartbeat`
//! (broadcasts with targeting, acknowledged broadcasts, fetch / join /
//! leave / disconnect of sockets, server-side emits, membership by
//! heartbeat). A broker crate implements only [`Broker`]: publish bytes,
//! subscribe, survive outages. [`MemoryBroker`] runs the protocol in one
//! process; with the `conformance` feature, [`conformance`] is the shared
//! test suite every broker runs.

mod adapter;
pub mod broker;
mod cluster;
mod directory;
pub mod format;
pub mod memory;
pub mod message;
mod random_id;
mod recent_joins;
mod requests;
pub mod session_store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use adapter::ClusterAdapter;
pub use broker::{Broker, BrokerCounters, BrokerError, BrokerStats, Channel, Delivery, NodeId};
pub use cluster::{Cluster, ClusterConfig};
pub use format::{Destination, Membership, NativeFormat, WireFormat};
pub use memory::{MemoryBroker, MemoryBus};
pub use random_id::random_id;
pub use recent_joins::{JOIN_SETTLE, RecentJoins};
pub use session_store::SessionStore;
