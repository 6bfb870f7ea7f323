//! `MemoryBroker`: an in-process broker, so that the whole cluster protocol
//! runs in one process (tests, and embedding several servers in one
//! program). Several servers connect to one [`MemoryBus`].

use crate::broker::{BoxFuture, Broker, BrokerCounters, BrokerStats, Channel, Delivery};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The shared medium of in-process brokers.
#[derive(Clone, Default)]
pub struct MemoryBus(Arc<Mutex<Vec<Member>>>, Arc<Faults>);

/// Slow or failing subscriptions, as a loaded or failing broker has them.
#[derive(Default)]
struct Faults {
    /// How long a subscription takes to take effect.
    subscribe_delay: Mutex<std::time::Duration>,
    /// Subscriptions to refuse before accepting again.
    refuse_subscriptions: std::sync::atomic::AtomicUsize,
}

struct Member {
    id: usize,
    subscriptions: HashSet<String>,
    sink: mpsc::UnboundedSender<Delivery>,
    connected: bool,
    counters: Arc<BrokerCounters>,
}

/// One node's connection to a [`MemoryBus`].
pub struct MemoryBroker {
    bus: MemoryBus,
    id: usize,
    counters: Arc<BrokerCounters>,
}

impl MemoryBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects a node; its messages arrive on the returned receiver.
    pub fn connect(&self) -> (MemoryBroker, mpsc::Receiver<Delivery>) {
        let (sink, mut unbounded) = mpsc::unbounded_channel();
        let counters = Arc::new(BrokerCounters::default());
        let id = {
            let mut members = self.0.lock();
            let id = members.len();
            members.push(Member {
                id,
                subscriptions: HashSet::new(),
                sink,
                connected: true,
                counters: counters.clone(),
            });
            id
        };
        // Present the same bounded receiver the network brokers hand out.
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            while let Some(delivery) = unbounded.recv().await {
                if tx.send(delivery).await.is_err() {
                    return;
                }
            }
        });
        (
            MemoryBroker {
                bus: self.clone(),
                id,
                counters,
            },
            rx,
        )
    }

    /// Cuts (`false`) or restores (`true`) a node's connection, as a broker
    /// outage would: while cut, it neither sends nor receives.
    pub fn set_connected(&self, broker: &MemoryBroker, connected: bool) {
        let mut members = self.0.lock();
        if let Some(member) = members.iter_mut().find(|m| m.id == broker.id) {
            if member.connected && !connected {
                member.counters.outage();
            } else if !member.connected && connected {
                member.counters.recovery();
            }
            member.connected = connected;
        }
    }

    /// Makes subscriptions take `delay` to take effect (and to be
    /// confirmed), as a broker's bind under load does.
    pub fn set_subscribe_delay(&self, delay: std::time::Duration) {
        *self.1.subscribe_delay.lock() = delay;
    }

    /// Refuses the next `n` subscriptions.
    pub fn refuse_subscriptions(&self, n: usize) {
        self.1
            .refuse_subscriptions
            .store(n, std::sync::atomic::Ordering::Release);
    }

    /// Sends raw bytes to every subscriber of `channel`, as a foreign or
    /// buggy publisher would.
    pub fn inject(&self, channel: &Channel, payload: Bytes) {
        deliver(&self.0.lock(), &name(channel), payload);
    }
}

fn name(channel: &Channel) -> String {
    match channel {
        Channel::Namespace(ns) => format!("{ns}#"),
        Channel::Room { ns, room } => format!("{ns}#{room}#"),
        Channel::Node { ns, node } => format!("{ns}#node#{node}#"),
        Channel::Requests(ns) => format!("{ns}#requests#"),
        Channel::Responses(ns) => format!("{ns}#responses#"),
        Channel::Switchyard(ns) => format!("{ns}#switchyard#"),
    }
}

fn deliver(members: &[Member], channel: &str, payload: Bytes) {
    for member in members
        .iter()
        .filter(|m| m.connected && m.subscriptions.contains(channel))
    {
        let _ = member.sink.send(Delivery {
            channel: channel.to_owned(),
            payload: payload.clone(),
        });
    }
}

impl Broker for MemoryBroker {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn publish(&self, channel: &Channel, payload: Bytes) {
        let members = self.bus.0.lock();
        if !members.iter().any(|m| m.id == self.id && m.connected) {
            self.counters.publish_failure();
            tracing::debug!(%channel, "memory broker disconnected: message lost");
            return;
        }
        deliver(&members, &name(channel), payload);
    }

    fn subscribe(
        &self,
        channels: Vec<Channel>,
    ) -> BoxFuture<Result<(), crate::broker::BrokerError>> {
        use std::sync::atomic::Ordering;
        let faults = &self.bus.1;
        let refuse = faults
            .refuse_subscriptions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Box::pin(async {
                Err(crate::broker::BrokerError::Refused(
                    "subscription refused (test fault)".into(),
                ))
            });
        }
        let delay = *faults.subscribe_delay.lock();
        let (bus, id) = (self.bus.clone(), self.id);
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(member) = bus.0.lock().iter_mut().find(|m| m.id == id) {
                member.subscriptions.extend(channels.iter().map(name));
            }
            Ok(())
        })
    }

    fn unsubscribe(
        &self,
        channels: Vec<Channel>,
    ) -> BoxFuture<Result<(), crate::broker::BrokerError>> {
        if let Some(member) = self.bus.0.lock().iter_mut().find(|m| m.id == self.id) {
            for channel in &channels {
                member.subscriptions.remove(&name(channel));
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> BrokerStats {
        self.counters.snapshot()
    }

    fn connected(&self) -> bool {
        self.bus
            .0
            .lock()
            .iter()
            .any(|m| m.id == self.id && m.connected)
    }

    fn close(&self) -> BoxFuture<()> {
        self.bus.set_connected(self, false);
        Box::pin(async {})
    }
}
