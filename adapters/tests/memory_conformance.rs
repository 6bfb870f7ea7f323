//! The shared cluster suite against the in-process broker.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use switchyard_cluster::conformance::connect;
use switchyard_cluster::{Broker, MemoryBus};

switchyard_cluster::conformance_tests!({
    let bus = MemoryBus::new();
    connect(move |_prefix| {
        let bus = bus.clone();
        async move {
            let (broker, incoming) = bus.connect();
            (Arc::new(broker) as Arc<dyn Broker>, incoming)
        }
    })
});
