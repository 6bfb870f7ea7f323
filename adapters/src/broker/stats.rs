//! How a broker connection fared: [`BrokerStats`], and the
//! [`BrokerCounters`] a broker updates.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to a broker connection so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Times the connection was lost.
    pub outages: u64,
    /// Times it was restored (subscriptions included).
    pub recoveries: u64,
    /// Messages that could not be published (lost during an outage).
    pub publish_failures: u64,
    /// Incoming messages that were malformed or foreign and were skipped.
    pub skipped_messages: u64,
    /// Incoming messages the broker client dropped (a slow consumer).
    pub lost_incoming: u64,
}

/// Counters a broker implementation updates; [`BrokerCounters::snapshot`]
/// gives its [`BrokerStats`].
#[derive(Debug, Default)]
pub struct BrokerCounters {
    outages: AtomicU64,
    recoveries: AtomicU64,
    publish_failures: AtomicU64,
    skipped_messages: AtomicU64,
    lost_incoming: AtomicU64,
}

impl BrokerCounters {
    /// Records a lost connection.
    pub fn outage(&self) {
        self.outages.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a restored connection.
    pub fn recovery(&self) {
        self.recoveries.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a message that could not be published.
    pub fn publish_failure(&self) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a skipped incoming message.
    pub fn skipped(&self) {
        self.skipped_messages.fetch_add(1, Ordering::Relaxed);
    }
    /// Records incoming messages the client dropped.
    pub fn lost(&self, n: u64) {
        self.lost_incoming.fetch_add(n, Ordering::Relaxed);
    }
    /// The current values.
    pub fn snapshot(&self) -> BrokerStats {
        BrokerStats {
            outages: self.outages.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
            publish_failures: self.publish_failures.load(Ordering::Relaxed),
            skipped_messages: self.skipped_messages.load(Ordering::Relaxed),
            lost_incoming: self.lost_incoming.load(Ordering::Relaxed),
        }
    }
}
