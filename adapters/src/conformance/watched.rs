//! A broker that notes, as each message is published, what a check says
//! about its node at that moment (for invariants that hold at publish time).

use crate::broker::{BoxFuture, Broker, BrokerError, BrokerStats, Channel};
use crate::format::WireFormat;
use crate::session_store::SessionStore;
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;

type Check = Box<dyn Fn(&Channel) -> Option<usize> + Send + Sync>;

/// What was noted: the check's value for each message published while it
/// was set (and answered).
#[derive(Default)]
pub struct Notes {
    check: Mutex<Option<Check>>,
    noted: Mutex<Vec<usize>>,
}

impl Notes {
    /// Notes `check(channel)` for each message published from now on.
    pub fn watch(&self, check: impl Fn(&Channel) -> Option<usize> + Send + Sync + 'static) {
        *self.check.lock() = Some(Box::new(check));
    }

    /// Stops noting; returns what was noted.
    pub fn stop(&self) -> Vec<usize> {
        self.check.lock().take();
        std::mem::take(&mut self.noted.lock())
    }
}

/// `inner`, noting into `notes` as it publishes.
pub struct Watched {
    pub inner: Arc<dyn Broker>,
    pub notes: Arc<Notes>,
}

impl Broker for Watched {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn publish(&self, channel: &Channel, payload: Bytes) {
        if let Some(check) = &*self.notes.check.lock()
            && let Some(value) = check(channel)
        {
            self.notes.noted.lock().push(value);
        }
        self.inner.publish(channel, payload);
    }

    fn subscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.inner.subscribe(channels)
    }

    fn unsubscribe(&self, channels: Vec<Channel>) -> BoxFuture<Result<(), BrokerError>> {
        self.inner.unsubscribe(channels)
    }

    fn stats(&self) -> BrokerStats {
        self.inner.stats()
    }

    fn flush(&self) -> BoxFuture<()> {
        self.inner.flush()
    }

    fn connected(&self) -> bool {
        self.inner.connected()
    }

    fn close(&self) -> BoxFuture<()> {
        self.inner.close()
    }

    fn subscriber_count(&self, channel: &Channel) -> BoxFuture<Result<usize, BrokerError>> {
        self.inner.subscriber_count(channel)
    }

    fn wire_format(&self) -> Arc<dyn WireFormat> {
        self.inner.wire_format()
    }

    fn session_store(&self) -> Option<Arc<dyn SessionStore>> {
        self.inner.session_store()
    }
}
